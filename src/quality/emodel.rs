//! The ITU-T G.107 E-model (narrowband, 06/2015 text) and its wideband extension G.107.1:
//! the transmission rating R from the parameters of a connection, and the estimated
//! conversational MOS from R (G.107 Annex B).
//!
//! R = Ro − Is − Id − Ie,eff + A, with Ro the basic signal-to-noise ratio, Is the
//! simultaneous impairments (loudness, sidetone, quantising), Id the delay impairments
//! (talker echo, listener echo, absolute delay), Ie,eff the equipment impairment of the
//! codec under packet loss and A the advantage factor. Every formula below is the
//! Recommendation's, with its symbols; [`Connection::default`] holds its default values
//! (Table 2), which give R = 93.2.
//!
//! ```
//! use rvoip_media_core::quality::emodel::{mos_from_r, Connection};
//! let r = Connection::default().r();
//! assert!((r - 93.2).abs() < 0.05);
//! assert!((mos_from_r(r) - 4.41).abs() < 0.01);
//! // G.729A (Ie 11, Bpl 19, G.113 Appendix I) with 2 % random loss and 150 ms one way.
//! let c = Connection { ie: 11.0, bpl: 19.0, ppl: 2.0, ta: 150.0, t: 150.0, ..Connection::default() };
//! assert!(c.r() < 75.0 && c.r() > 65.0);
//! ```

/// One connection's parameters (G.107 Table 2: symbols, units and defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Connection {
    /// Send loudness rating, dB (default 8).
    pub slr: f64,
    /// Receive loudness rating, dB (default 2).
    pub rlr: f64,
    /// Sidetone masking rating, dB (default 15).
    pub stmr: f64,
    /// Listener sidetone rating, dB (default 18).
    pub lstr: f64,
    /// D-value of the telephone, send side (default 3).
    pub ds: f64,
    /// D-value of the telephone, receive side (default 3).
    pub dr: f64,
    /// Talker echo loudness rating, dB (default 65).
    pub telr: f64,
    /// Weighted echo path loss, dB (default 110).
    pub wepl: f64,
    /// Mean one-way delay of the echo path, ms (default 0).
    pub t: f64,
    /// Round-trip delay in a 4-wire loop, ms (default 0).
    pub tr: f64,
    /// Absolute delay in echo-free connections (mouth to ear), ms (default 0).
    pub ta: f64,
    /// Number of quantising distortion units (default 1).
    pub qdu: f64,
    /// Equipment impairment factor of the codec (default 0).
    pub ie: f64,
    /// Packet-loss robustness factor of the codec (default 4.3, G.711 without concealment;
    /// codec values come from G.113 Appendix I).
    pub bpl: f64,
    /// Random packet-loss probability, % (default 0).
    pub ppl: f64,
    /// Burst ratio: 1 for random loss, above 1 for bursty loss (default 1).
    pub burst_r: f64,
    /// Advantage factor (default 0).
    pub a: f64,
    /// Circuit noise referred to the 0 dBr point, dBm0p (default −70).
    pub nc: f64,
    /// Noise floor at the receive side, dBmp (default −64).
    pub nfor: f64,
    /// Room noise at the send side, dB(A) (default 35).
    pub ps: f64,
    /// Room noise at the receive side, dB(A) (default 35).
    pub pr: f64,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            slr: 8.0,
            rlr: 2.0,
            stmr: 15.0,
            lstr: 18.0,
            ds: 3.0,
            dr: 3.0,
            telr: 65.0,
            wepl: 110.0,
            t: 0.0,
            tr: 0.0,
            ta: 0.0,
            qdu: 1.0,
            ie: 0.0,
            bpl: 4.3,
            ppl: 0.0,
            burst_r: 1.0,
            a: 0.0,
            nc: -70.0,
            nfor: -64.0,
            ps: 35.0,
            pr: 35.0,
        }
    }
}

fn log10(x: f64) -> f64 {
    x.log10()
}

impl Connection {
    /// Overall noise No (G.107 eq. 7-3 to 7-7), dBm0p.
    fn no(&self) -> f64 {
        let olr = self.slr + self.rlr;
        let nos = self.ps - self.slr - self.ds - 100.0 + 0.004 * (self.ps - olr - self.ds - 14.0).powi(2);
        let pre = self.pr + 10.0 * log10(1.0 + 10f64.powf((10.0 - self.lstr) / 10.0));
        let nor = self.rlr - 121.0 + pre + 0.008 * (pre - 35.0).powi(2);
        let nfo = self.nfor + self.rlr;
        10.0 * log10(
            10f64.powf(self.nc / 10.0) + 10f64.powf(nos / 10.0) + 10f64.powf(nor / 10.0) + 10f64.powf(nfo / 10.0),
        )
    }

    /// Basic signal-to-noise ratio Ro (eq. 7-2).
    pub fn ro(&self) -> f64 {
        15.0 - 1.5 * (self.slr + self.no())
    }

    /// Simultaneous impairment factor Is = Iolr + Ist + Iq (eq. 7-8 to 7-18).
    pub fn is(&self) -> f64 {
        let no = self.no();
        let olr = self.slr + self.rlr;
        let xolr = olr + 0.2 * (64.0 + no - self.rlr);
        let iolr = 20.0 * ((1.0 + (xolr / 8.0).powi(8)).powf(1.0 / 8.0) - xolr / 8.0);
        let ist = self.ist();
        let q = 37.0 - 15.0 * log10(self.qdu);
        let g = 1.07 + 0.258 * q + 0.0602 * q * q;
        let y = (self.ro() - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0;
        let z = 46.0 / 30.0 - g / 40.0;
        let iq = 15.0 * log10(1.0 + 10f64.powf(y) + 10f64.powf(z));
        iolr + ist + iq
    }

    /// Delay impairment factor Id = Idte + Idle + Idd (eq. 7-19 to 7-30).
    pub fn id(&self) -> f64 {
        let (t, tr, ta) = (self.t, self.tr, self.ta);
        // Talker echo.
        let roe = -1.5 * (self.no() - self.rlr);
        let mut terv = self.telr - 40.0 * log10((1.0 + t / 10.0) / (1.0 + t / 150.0)) + 6.0 * (-0.3 * t * t).exp();
        if self.stmr < 9.0 {
            terv += self.ist() / 2.0;
        }
        let re = 80.0 + 2.5 * (terv - 14.0);
        let idte = ((roe - re) / 2.0 + ((roe - re).powi(2) / 4.0 + 100.0).sqrt() - 1.0) * (1.0 - (-t).exp());
        let idte = if self.stmr > 20.0 { (idte * idte + self.ist().powi(2)).sqrt() } else { idte };
        // Listener echo.
        let rle = 10.5 * (self.wepl + 7.0) * (tr + 1.0).powf(-0.25);
        let idle = (self.ro() - rle) / 2.0 + ((self.ro() - rle).powi(2) / 4.0 + 169.0).sqrt();
        // Absolute delay (mT = 100 ms).
        let idd = if ta > 100.0 {
            let x = (ta / 100.0).log2();
            25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0) + 2.0)
        } else {
            0.0
        };
        idte + idle + idd
    }

    /// Ist, the sidetone impairment: part of Is, and used by the talker-echo term for
    /// extreme STMR.
    fn ist(&self) -> f64 {
        let stmro =
            -10.0 * log10(10f64.powf(-self.stmr / 10.0) + (-self.t / 4.0).exp() * 10f64.powf(-self.telr / 10.0));
        12.0 * (1.0 + ((stmro - 13.0) / 6.0).powi(8)).powf(1.0 / 8.0)
            - 28.0 * (1.0 + ((stmro + 1.0) / 19.4).powi(35)).powf(1.0 / 35.0)
            - 13.0 * (1.0 + ((stmro - 3.0) / 33.0).powi(13)).powf(1.0 / 13.0)
            + 29.0
    }

    /// Effective equipment impairment Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl / BurstR + Bpl)
    /// (eq. 7-29).
    pub fn ie_eff(&self) -> f64 {
        let ppl = self.ppl.max(0.0);
        self.ie + (95.0 - self.ie) * ppl / (ppl / self.burst_r.max(1.0) + self.bpl)
    }

    /// The transmission rating R.
    pub fn r(&self) -> f64 {
        self.ro() - self.is() - self.id() - self.ie_eff() + self.a
    }
}

/// Estimated conversational MOS (MOS-CQE) from a narrowband R (G.107 Annex B, eq. B-4),
/// held at 1 where the cubic dips below the scale's floor (R below about 6.5).
///
/// ```
/// use rvoip_media_core::quality::emodel::mos_from_r;
/// assert_eq!(mos_from_r(-5.0), 1.0);
/// assert_eq!(mos_from_r(120.0), 4.5);
/// assert!((mos_from_r(50.0) - 2.58).abs() < 0.01);
/// ```
pub fn mos_from_r(r: f64) -> f64 {
    if r < 0.0 {
        1.0
    } else if r > 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6).max(1.0)
    }
}

/// The wideband rating of G.107.1 for a wideband connection: the narrowband model's delay
/// impairment Id (G.107.1 keeps G.107's delay terms) with the wideband basic rating
/// Ro,WB = 129 and the wideband effective equipment impairment
/// Ie,WB,eff = Ie,WB + (95 − Ie,WB) · Ppl / (Ppl / BurstR + Bpl) (G.107.1 §7.5: the
/// constant stays G.107's 95, it is not rescaled to 129). Default handsets (Is,WB = 0),
/// `c.a` the advantage factor.
///
/// ```
/// use rvoip_media_core::quality::emodel::{mos_from_wideband_r, wideband_r, Connection};
/// // A clean wideband call scores the full wideband scale.
/// let r = wideband_r(&Connection::default(), 0.0);
/// assert!(r > 128.0);
/// assert!(mos_from_wideband_r(r) > 4.49);
/// // G.722 (Ie,WB 13), 2 % random loss, Bpl 25.1: Ie,WB,eff = 13 + 82 · 2 / 27.1.
/// let c = Connection { bpl: 25.1, ppl: 2.0, ..Connection::default() };
/// assert!((wideband_r(&c, 13.0) - (129.0 - 13.0 - 82.0 * 2.0 / 27.1)).abs() < 0.2);
/// ```
pub fn wideband_r(c: &Connection, ie_wb: f64) -> f64 {
    let ppl = c.ppl.max(0.0);
    let ie_eff = ie_wb + (95.0 - ie_wb).max(0.0) * ppl / (ppl / c.burst_r.max(1.0) + c.bpl);
    let id = Connection { t: c.t, tr: c.tr, ta: c.ta, ..Connection::default() }.id();
    129.0 - id - ie_eff + c.a
}

/// MOS from a wideband R: R / 1.29 on the narrowband scale, then [`mos_from_r`] (G.107.1
/// Appendix; the 1.29 factor maps the wideband scale's 129 onto 100).
pub fn mos_from_wideband_r(r_wb: f64) -> f64 {
    mos_from_r(r_wb / 1.29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_give_the_recommendations_93_2() {
        let c = Connection::default();
        // G.107 §7: with all parameters at their defaults, Ro = 94.77, Is = 1.41, R = 93.2.
        assert!((c.ro() - 94.77).abs() < 0.01, "Ro {}", c.ro());
        assert!((c.is() - 1.41).abs() < 0.01, "Is {}", c.is());
        assert!((c.r() - 93.2).abs() < 0.05, "R {}", c.r());
        assert!(c.id().abs() < 0.2, "Id {}", c.id());
    }

    #[test]
    fn codec_loss_and_delay_lower_r_as_the_formulas_say() {
        let base = Connection::default().r();
        // Ie subtracts one for one without loss.
        let g729 = Connection { ie: 11.0, bpl: 19.0, ..Connection::default() };
        assert!((base - g729.r() - 11.0).abs() < 1e-9);
        // Ie,eff with 2 % random loss: 11 + 84 * 2 / (2 + 19) = 19.0.
        let lossy = Connection { ppl: 2.0, ..g729 };
        assert!((lossy.ie_eff() - 19.0).abs() < 1e-9);
        // Bursty loss hurts more than random loss at the same rate.
        let bursty = Connection { burst_r: 2.0, ..lossy };
        assert!(bursty.ie_eff() > lossy.ie_eff());
        // G.711 with PLC (Ie 0, Bpl 25.1) at 1 %: 95 / 26.1 = 3.64.
        let g711 = Connection { bpl: 25.1, ppl: 1.0, ..Connection::default() };
        assert!((g711.ie_eff() - 95.0 / 26.1).abs() < 1e-9);
        // Absolute delay: nothing below 100 ms, then Idd; at 200 ms X = 1 and
        // Idd = 25 (2^(1/6) - 3 (1 + 3^-6)^(1/6) + 2) = 3.05.
        let at = |ta: f64| Connection { ta, ..Connection::default() }.r();
        assert!((at(100.0) - base).abs() < 1e-9);
        let idd200 = 25.0 * (2f64.powf(1.0 / 6.0) - 3.0 * (1.0 + 3f64.powi(-6)).powf(1.0 / 6.0) + 2.0);
        assert!((base - at(200.0) - idd200).abs() < 1e-9);
        assert!((idd200 - 3.05).abs() < 0.01);
        assert!(at(400.0) < at(300.0) && at(300.0) < at(200.0));
        // Talker echo grows with the echo path's delay.
        let echo = |t: f64| Connection { t, ta: t, ..Connection::default() }.r();
        assert!(echo(150.0) < echo(50.0));
    }

    #[test]
    fn wideband_worked_examples() {
        // Id of a default connection (echo terms only, no absolute delay): what the
        // narrowband defaults leave, 94.77 - 1.41 - 93.2 ≈ 0.16.
        let id0 = Connection::default().id();
        // G.722 (Ie,WB 13, G.113 Appendix IV) without loss or delay: R = 129 - 13 - Id0.
        let g722 = Connection { bpl: 25.1, ..Connection::default() };
        assert!((wideband_r(&g722, 13.0) - (116.0 - id0)).abs() < 1e-9);
        // MOS: R / 1.29 through G.107 Annex B: 116 / 1.29 = 89.9 -> 4.33 (hand-computed:
        // 1 + 0.035 x + 7e-6 x (x - 60)(100 - x) with x = 89.92 - 0.12).
        let x = (116.0 - id0) / 1.29;
        let by_hand = 1.0 + 0.035 * x + 7.0e-6 * x * (x - 60.0) * (100.0 - x);
        assert!((mos_from_wideband_r(wideband_r(&g722, 13.0)) - by_hand).abs() < 1e-12);
        assert!((by_hand - 4.334).abs() < 0.001, "{by_hand}");
        // 5 % loss in bursts (BurstR 2): Ie,WB,eff = 13 + 82 * 5 / (2.5 + 25.1) = 27.86.
        let lossy = Connection { ppl: 5.0, burst_r: 2.0, ..g722 };
        let ie_eff: f64 = 13.0 + 82.0 * 5.0 / (5.0 / 2.0 + 25.1);
        assert!((ie_eff - 27.855).abs() < 0.01);
        assert!((wideband_r(&lossy, 13.0) - (129.0 - id0 - ie_eff)).abs() < 1e-9);
        // Absolute delay 300 ms: the narrowband Idd (X = log2 3) comes off the wideband R too.
        let x3 = 3f64.log2();
        let idd = 25.0 * ((1.0 + x3.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x3 / 3.0).powi(6)).powf(1.0 / 6.0) + 2.0);
        let slow = Connection { ta: 300.0, ..g722 };
        let echo = Connection { ta: 0.0, ..slow }.id() - id0; // no T: unchanged echo terms
        assert!(echo.abs() < 1e-12);
        assert!((wideband_r(&g722, 13.0) - wideband_r(&slow, 13.0) - idd).abs() < 1e-9);
        assert!((idd - 14.76).abs() < 0.01, "Idd(300) {idd}");
        // Total loss cannot push Ie,WB,eff beyond 95.
        let all = Connection { ppl: 100.0, ..g722 };
        assert!(129.0 - wideband_r(&all, 13.0) - id0 < 95.0);
    }

    #[test]
    fn mos_mapping_is_monotonic_and_bounded() {
        let mut last = 0.0;
        for r in (0..=100).map(f64::from) {
            let m = mos_from_r(r);
            assert!(m >= last && (1.0..=4.5).contains(&m));
            last = m;
        }
        assert!((mos_from_r(93.2) - 4.41).abs() < 0.01);
        assert!((mos_from_wideband_r(129.0) - 4.5).abs() < 1e-9);
    }
}
