//! Packing of the 15 speech parameters into 80 bits (table 8 of G.729) and of the 4 SID
//! parameters into 15 bits (table B.2), most significant bit first.

/// Number of speech frame parameters: L0 L1 L2 L3 P1 P0 C1 S1 GA1 GB1 P2 C2 S2 GA2 GB2.
pub(crate) const N_PARAMS: usize = 15;
const WIDTHS: [u32; N_PARAMS] = [1, 7, 5, 5, 8, 1, 13, 4, 3, 4, 5, 13, 4, 3, 4];

/// Unpacks the parameters of a 10-byte speech frame.
pub(crate) fn unpack(bytes: &[u8; 10]) -> [u16; N_PARAMS] {
    let mut bits: u128 = 0;
    for &b in bytes {
        bits = (bits << 8) | b as u128;
    }
    let mut out = [0u16; N_PARAMS];
    let mut left = 80u32;
    for (o, &w) in out.iter_mut().zip(&WIDTHS) {
        left -= w;
        *o = ((bits >> left) & ((1u128 << w) - 1)) as u16;
    }
    out
}

/// Packs speech parameters into 10 bytes.
pub(crate) fn pack(params: &[u16; N_PARAMS], out: &mut [u8; 10]) {
    let mut bits: u128 = 0;
    for (&p, &w) in params.iter().zip(&WIDTHS) {
        bits = (bits << w) | (p as u128 & ((1u128 << w) - 1));
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = (bits >> (72 - 8 * i)) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack_round_trip() {
        let mut p = [0u16; N_PARAMS];
        for (i, v) in p.iter_mut().enumerate() {
            *v = (i as u16 * 2477 + 13) % (1 << WIDTHS[i]);
        }
        let mut b = [0u8; 10];
        pack(&p, &mut b);
        assert_eq!(unpack(&b), p);
        // L0 is the first bit of the frame
        assert_eq!(unpack(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0])[0], 1);
        // GB2 is the last nibble
        assert_eq!(unpack(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f])[14], 15);
    }
}
