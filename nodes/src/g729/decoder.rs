//! G.729 Annex A decoder with Annex B comfort-noise generation and frame-erasure concealment.

use super::acelp::decode_fixed_vector;
use super::basic_ops::*;
use super::bitstream::unpack;
use super::cng::{comfort_noise_excitation, Cng, CNG_SEED_INIT};
use super::gain::GainDecoder;
use super::lpc::synthesis_filter;
use super::lpc::HighPass;
use super::lsp::{interpolate, qlsp_to_lp, LspDecoder, QLSP_INIT};
use super::pitch::{parity, PitchDecoder};
use super::postfilter::PostFilter;
use super::{G729Error, LP_ORDER, L_FRAME, L_SUBFRAME, PAST_EXCITATION, SID_BYTES, SPEECH_BYTES};

const PITCH_GAIN_MIN: i16 = 3277;
const PITCH_GAIN_MAX: i16 = 13107;

/// G.729 Annex A / Annex B decoder: 10-byte speech frames, 2-byte SID frames, untransmitted
/// (DTX) frames and erased frames in, 80 samples of 8 kHz 16-bit PCM out per call.
///
/// Output is bit-exact with the bcg729 reference decoder for valid streams, erased frames and
/// Annex B streams (see the module documentation for the measured coverage).
///
/// ```
/// use rvoip_media_nodes::g729::{G729Decoder, G729Encoder};
/// let mut enc = G729Encoder::new(false);
/// let mut dec = G729Decoder::new();
/// let pcm = [0i16; 80];
/// let mut bits = [0u8; 10];
/// let kind = enc.encode(&pcm, &mut bits);
/// let mut out = [0i16; 80];
/// dec.decode(Some(&bits[..kind.len()]), &mut out).unwrap();
/// // an erased frame is concealed
/// dec.decode(None, &mut out).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct G729Decoder {
    prev_qlsp: [i16; LP_ORDER],
    exc: [i16; PAST_EXCITATION + L_FRAME],
    bounded_pitch_gain: i16,
    pitch_gain: i16,
    code_gain: i16,
    /// Reconstructed speech with LP_ORDER samples of history.
    synth: [i16; LP_ORDER + L_FRAME],
    seed: u16,
    cng_seed: u16,
    lsp: LspDecoder,
    pitch: PitchDecoder,
    gains: GainDecoder,
    post: PostFilter,
    hp: HighPass,
    cng: Cng,
    prev_active: bool,
}

impl Default for G729Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G729Decoder {
    /// Creates a decoder in its initial state.
    pub fn new() -> Self {
        Self {
            prev_qlsp: QLSP_INIT,
            exc: [0; PAST_EXCITATION + L_FRAME],
            bounded_pitch_gain: PITCH_GAIN_MIN,
            pitch_gain: 0,
            code_gain: 0,
            synth: [0; LP_ORDER + L_FRAME],
            seed: 21845,
            cng_seed: CNG_SEED_INIT,
            lsp: LspDecoder::new(),
            pitch: PitchDecoder::new(),
            gains: GainDecoder::new(),
            post: PostFilter::new(),
            hp: HighPass::default(),
            cng: Cng::new(),
            prev_active: true,
        }
    }

    /// Returns the decoder to its initial state.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Decodes one 10 ms frame into `out`.
    ///
    /// * `Some(10 bytes)`: speech frame.
    /// * `Some(2 bytes)`: Annex B SID frame (comfort noise with new parameters).
    /// * `Some(0 bytes)` or `None`: untransmitted or erased frame. After speech this conceals
    ///   the loss (G.729 4.4); during a silence period it continues the comfort noise.
    /// * any other length: `Err(G729Error::InvalidFrameLength)`, and `out` holds the same
    ///   concealment as for an erased frame, so the stream continues smoothly.
    pub fn decode(&mut self, frame: Option<&[u8]>, out: &mut [i16; L_FRAME]) -> Result<(), G729Error> {
        match frame {
            Some(b) if b.len() == SPEECH_BYTES => {
                let mut bytes = [0u8; SPEECH_BYTES];
                bytes.copy_from_slice(b);
                self.decode_speech(Some(&bytes), out);
                Ok(())
            }
            Some(b) if b.len() == SID_BYTES => {
                self.decode_noise(Some(b), out);
                Ok(())
            }
            Some([]) | None => {
                self.decode_lost(out);
                Ok(())
            }
            Some(b) => {
                self.decode_lost(out);
                Err(G729Error::InvalidFrameLength(b.len()))
            }
        }
    }

    fn decode_lost(&mut self, out: &mut [i16; L_FRAME]) {
        if self.prev_active {
            self.decode_speech(None, out);
        } else {
            self.decode_noise(None, out);
        }
    }

    /// Comfort-noise frame (SID received or DTX continuation).
    fn decode_noise(&mut self, sid: Option<&[u8]>, out: &mut [i16; L_FRAME]) {
        let mut lp = [0i16; 2 * LP_ORDER];
        self.cng.update(sid, self.prev_active, &mut self.lsp.mem);
        let mut interp = [0i16; LP_ORDER];
        interpolate(&self.prev_qlsp, &self.cng.qlsp, &mut interp);
        self.prev_qlsp = self.cng.qlsp;
        qlsp_to_lp(&interp, &mut lp[..LP_ORDER]);
        qlsp_to_lp(&self.cng.qlsp, &mut lp[LP_ORDER..]);
        comfort_noise_excitation(self.cng.gain(), &mut self.cng_seed, &mut self.exc, PAST_EXCITATION);
        self.prev_active = false;
        let pitch = self.pitch.prev_int_delay;
        for (k, sub) in (0..L_FRAME).step_by(L_SUBFRAME).enumerate() {
            self.synthesise(&lp[k * LP_ORDER..(k + 1) * LP_ORDER], sub, pitch, out);
        }
        self.bounded_pitch_gain = PITCH_GAIN_MIN;
        self.end_frame();
    }

    /// Speech frame, or concealment of an erased one when `bits` is `None`.
    fn decode_speech(&mut self, bits: Option<&[u8; SPEECH_BYTES]>, out: &mut [i16; L_FRAME]) {
        let erased = bits.is_none();
        let mut params = bits.map(unpack).unwrap_or([0; 15]);
        self.prev_active = true;
        self.cng_seed = CNG_SEED_INIT;
        let mut qlsp = [0i16; LP_ORDER];
        self.lsp.decode([params[0], params[1], params[2], params[3]], erased, &mut qlsp);
        let mut interp = [0i16; LP_ORDER];
        interpolate(&self.prev_qlsp, &qlsp, &mut interp);
        self.prev_qlsp = qlsp;
        let mut lp = [0i16; 2 * LP_ORDER];
        qlsp_to_lp(&interp, &mut lp[..LP_ORDER]);
        qlsp_to_lp(&qlsp, &mut lp[LP_ORDER..]);
        let parity_error = (parity(params[4]) ^ params[5]) != 0;
        let mut int_delay = 0i32;
        let mut pi = 4usize;
        for (k, sub) in (0..L_FRAME).step_by(L_SUBFRAME).enumerate() {
            let pos = PAST_EXCITATION + sub;
            let lost = erased || (k == 0 && parity_error);
            self.pitch.decode(k, params[pi], lost, &mut int_delay, &mut self.exc, pos);
            pi += if k == 0 { 2 } else { 1 };
            if erased {
                params[pi] = pseudo_random(&mut self.seed) & 0x1fff;
                params[pi + 1] = pseudo_random(&mut self.seed) & 0x000f;
            }
            let mut code = [0i16; L_SUBFRAME];
            decode_fixed_vector(params[pi + 1], params[pi], int_delay, self.bounded_pitch_gain, &mut code);
            pi += 2;
            self.gains.decode(params[pi], params[pi + 1], &code, erased, &mut self.pitch_gain, &mut self.code_gain);
            pi += 2;
            self.bounded_pitch_gain = self.pitch_gain.clamp(PITCH_GAIN_MIN, PITCH_GAIN_MAX);
            let gp = self.pitch_gain as i32;
            let gc = self.code_gain as i32;
            for i in 0..L_SUBFRAME {
                let v = add32(mult16_16(self.exc[pos + i] as i32, gp), mult16_16(code[i] as i32, gc));
                self.exc[pos + i] = saturate(pshr(v, 14), MAX16) as i16;
            }
            self.synthesise(&lp[k * LP_ORDER..(k + 1) * LP_ORDER], sub, int_delay, out);
        }
        self.end_frame();
    }

    /// Synthesis filter, post-filter and post-processing of one subframe.
    fn synthesise(&mut self, lp: &[i16], sub: usize, int_delay: i32, out: &mut [i16; L_FRAME]) {
        let pos = PAST_EXCITATION + sub;
        synthesis_filter(&self.exc[pos..pos + L_SUBFRAME], lp, &mut self.synth, LP_ORDER + sub);
        let mut pf = [0i16; L_SUBFRAME];
        self.post.process(lp, &self.synth, LP_ORDER + sub, int_delay, sub, &mut pf);
        self.hp.post_process(&mut pf);
        out[sub..sub + L_SUBFRAME].copy_from_slice(&pf);
    }

    fn end_frame(&mut self) {
        self.exc.copy_within(L_FRAME.., 0);
        self.synth.copy_within(L_FRAME.., 0);
    }
}
