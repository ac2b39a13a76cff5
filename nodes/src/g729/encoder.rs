//! G.729 Annex A encoder with optional Annex B VAD/DTX.

use super::acelp;
use super::basic_ops::*;
use super::bitstream::{pack, N_PARAMS};
use super::dtx::{Dtx, NoiseFrame};
use super::gain::{adaptive_gain, GainQuantiser};
use super::lpc::{analyse, synthesis_filter, HighPass, LpAnalysis};
use super::lsp::{interpolate, lp_to_lsp, lsp_to_lsf, qlsp_to_lp, quantise, MaMemory, LSF_INIT, QLSP_INIT};
use super::pitch::{closed_loop_pitch, open_loop_pitch, parity};
use super::vad::Vad;
use super::{FrameKind, LP_ORDER, L_FRAME, L_SUBFRAME, MAX_PITCH, MA_ORDER, PAST_EXCITATION};

const GAMMA_E: [i32; LP_ORDER] = [24756, 18432, 13824, 10368, 7776, 5832, 4374, 3280, 2460, 1845];
const WINDOW: usize = 240;
/// Start of the current frame in the analysis window (40 samples of look-ahead follow it).
const CUR: usize = WINDOW - L_SUBFRAME - L_FRAME;
const PITCH_GAIN_MIN: i16 = 3277;
const PITCH_GAIN_MAX: i16 = 19661;

/// Annex B state of the encoder.
#[derive(Clone, Debug)]
struct AnnexB {
    vad: Vad,
    dtx: Dtx,
}

/// G.729 Annex A encoder, optionally with Annex B voice activity detection and discontinuous
/// transmission: 80 samples of 8 kHz 16-bit PCM in, a 10-byte speech frame, a 2-byte SID frame
/// or nothing out.
///
/// The bitstream is bit-exact with the bcg729 reference encoder (see the module documentation
/// for the measured coverage). Encoding allocates nothing.
///
/// ```
/// use rvoip_media_nodes::g729::{FrameKind, G729Encoder};
/// let mut enc = G729Encoder::new(true);
/// let mut out = [0u8; 10];
/// let kind = enc.encode(&[0i16; 80], &mut out);
/// let payload = &out[..kind.len()];
/// assert!(matches!(kind, FrameKind::Speech | FrameKind::Sid | FrameKind::NoTransmission));
/// assert!(payload.len() == 10 || payload.len() == 2 || payload.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct G729Encoder {
    signal: [i16; WINDOW],
    prev_lsp: [i16; LP_ORDER],
    prev_qlsp: [i16; LP_ORDER],
    weighted: [i16; MAX_PITCH + L_FRAME],
    exc: [i16; PAST_EXCITATION + L_FRAME],
    /// Weighted-domain error memory (first LP_ORDER) followed by the subframe target.
    target: [i16; LP_ORDER + L_SUBFRAME],
    last_pitch_gain: i16,
    hp: HighPass,
    ma_mem: MaMemory,
    gains: GainQuantiser,
    annex_b: Option<AnnexB>,
    lpa: LpAnalysis,
}

/// A' coefficients of the perceptual weighting filter A(z/g)/(1 - 0.7 z^-1) form (A.3.3).
fn weighting_lowpass(wq: &[i16]) -> [i16; LP_ORDER] {
    let mut a = [0i16; LP_ORDER];
    a[0] = sub16(wq[0] as i32, 2867) as i16;
    for i in 1..LP_ORDER {
        a[i] = sub16(wq[i] as i32, mult16_16_q(wq[i - 1] as i32, 2867, 12)) as i16;
    }
    a
}

impl G729Encoder {
    /// Creates an encoder; `annex_b` enables VAD/DTX/CNG (SID and untransmitted frames).
    pub fn new(annex_b: bool) -> Self {
        Self {
            signal: [0; WINDOW],
            prev_lsp: QLSP_INIT,
            prev_qlsp: QLSP_INIT,
            weighted: [0; MAX_PITCH + L_FRAME],
            exc: [0; PAST_EXCITATION + L_FRAME],
            target: [0; LP_ORDER + L_SUBFRAME],
            last_pitch_gain: PITCH_GAIN_MIN,
            hp: HighPass::default(),
            ma_mem: [LSF_INIT; MA_ORDER],
            gains: GainQuantiser::new(),
            annex_b: annex_b.then(|| AnnexB { vad: Vad::new(), dtx: Dtx::new() }),
            lpa: LpAnalysis::default(),
        }
    }

    /// Whether Annex B (VAD/DTX) is enabled.
    pub fn annex_b(&self) -> bool {
        self.annex_b.is_some()
    }

    /// Returns the encoder to its initial state, keeping the Annex B setting.
    pub fn reset(&mut self) {
        *self = Self::new(self.annex_b());
    }

    /// Encodes one 10 ms frame. The payload is `out[..kind.len()]`: 10 bytes for speech,
    /// 2 bytes for an Annex B SID frame, nothing for an untransmitted (DTX) frame.
    pub fn encode(&mut self, pcm: &[i16; L_FRAME], out: &mut [u8; 10]) -> FrameKind {
        self.hp.pre_process(pcm, &mut self.signal[WINDOW - L_FRAME..]);
        let n_corr = if self.annex_b.is_some() { LP_ORDER + 3 } else { LP_ORDER + 1 };
        analyse(&self.signal, n_corr, &mut self.lpa);
        let mut lsp = [0i16; LP_ORDER];
        if !lp_to_lsp(&self.lpa.lp, &mut lsp) {
            lsp = self.prev_lsp;
        }
        if let Some(b) = self.annex_b.as_mut() {
            b.dtx.push_autocorr(&self.lpa.autocorr_no_lag, self.lpa.scale);
            let lsf = lsp_to_lsf(&lsp);
            let voice = b.vad.detect(
                self.lpa.reflection[1],
                &lsf,
                &self.lpa.autocorr,
                self.lpa.scale,
                &self.signal[CUR - 1..CUR + L_FRAME],
            );
            if voice {
                b.dtx.voice_frame();
            } else {
                let mut qlp = [0i16; 2 * LP_ORDER];
                let kind = b.dtx.noise_frame(
                    &mut self.prev_lsp,
                    &mut self.prev_qlsp,
                    &mut self.ma_mem,
                    &mut self.exc,
                    &mut qlp,
                );
                self.noise_update(&qlp);
                return match kind {
                    NoiseFrame::Sid(b) => {
                        out[..2].copy_from_slice(&b);
                        FrameKind::Sid
                    }
                    NoiseFrame::Untransmitted => FrameKind::NoTransmission,
                };
            }
        }
        let mut params = [0u16; N_PARAMS];
        let mut qlsp = [0i16; LP_ORDER];
        params[..4].copy_from_slice(&quantise(&lsp, &mut self.ma_mem, &mut qlsp));
        let mut interp = [0i16; LP_ORDER];
        interpolate(&self.prev_qlsp, &qlsp, &mut interp);
        self.prev_qlsp = qlsp;
        let mut qlp = [0i16; 2 * LP_ORDER];
        qlsp_to_lp(&interp, &mut qlp[..LP_ORDER]);
        qlsp_to_lp(&qlsp, &mut qlp[LP_ORDER..]);
        let wq = weighted_coefficients(&qlp);
        {
            let mut residual = [0i16; L_FRAME];
            self.weighted_speech(&qlp, &wq, &mut residual);
            self.exc[PAST_EXCITATION..].copy_from_slice(&residual);
        }
        let t_op = open_loop_pitch(&self.weighted);
        let mut t_min = (t_op - 3).max(20);
        let mut t_max = t_min + 6;
        if t_max > MAX_PITCH as i32 {
            t_max = MAX_PITCH as i32;
            t_min = MAX_PITCH as i32 - 6;
        }
        let mut pi = 4usize;
        for (k, sub) in (0..L_FRAME).step_by(L_SUBFRAME).enumerate() {
            let a = &wq[k * LP_ORDER..(k + 1) * LP_ORDER];
            let pos = PAST_EXCITATION + sub;
            // impulse response of the weighted synthesis filter
            let mut hbuf = [0i16; LP_ORDER + L_SUBFRAME];
            let mut imp = [0i16; L_SUBFRAME];
            imp[0] = 4096;
            synthesis_filter(&imp, a, &mut hbuf, LP_ORDER);
            let mut h = [0i16; L_SUBFRAME];
            h.copy_from_slice(&hbuf[LP_ORDER..]);
            // target signal
            let mut res = [0i16; L_SUBFRAME];
            res.copy_from_slice(&self.exc[pos..pos + L_SUBFRAME]);
            synthesis_filter(&res, a, &mut self.target, LP_ORDER);
            let (t, _frac, code) =
                closed_loop_pitch(&mut self.exc, pos, &mut t_min, &mut t_max, &h, &self.target[LP_ORDER..], k == 0);
            params[pi] = code;
            let mut ybuf = [0i16; LP_ORDER + L_SUBFRAME];
            let mut v = [0i16; L_SUBFRAME];
            v.copy_from_slice(&self.exc[pos..pos + L_SUBFRAME]);
            synthesis_filter(&v, a, &mut ybuf, LP_ORDER);
            let y = &ybuf[LP_ORDER..];
            let x = &self.target[LP_ORDER..];
            let (gp, xy, yy) = adaptive_gain(x, y);
            pi += 1;
            if k == 0 {
                params[pi] = parity(params[pi - 1]);
                pi += 1;
            }
            let fcb = acelp::search(x, &mut h, t, self.last_pitch_gain, y, gp);
            params[pi] = fcb.positions;
            params[pi + 1] = fcb.signs;
            pi += 2;
            let g = self.gains.quantise(x, y, &fcb.filtered, &fcb.vector, xy, yy);
            params[pi] = g.ga;
            params[pi + 1] = g.gb;
            pi += 2;
            self.last_pitch_gain = g.pitch.clamp(PITCH_GAIN_MIN, PITCH_GAIN_MAX);
            let (gp, gc) = (g.pitch as i32, g.code as i32);
            for i in 0..L_SUBFRAME {
                let e = add32(mult16_16(self.exc[pos + i] as i32, gp), mult16_16(fcb.vector[i] as i32, gc));
                self.exc[pos + i] = saturate(pshr(e, 14), MAX16) as i16;
            }
            let gp13 = pshr(gp, 1);
            for i in 0..LP_ORDER {
                let acc = mac16_16(
                    mult16_16(gp13, y[L_SUBFRAME - LP_ORDER + i] as i32),
                    gc,
                    fcb.filtered[L_SUBFRAME - LP_ORDER + i] as i32,
                );
                self.target[i] = saturate(sub32(self.target[L_SUBFRAME + i] as i32, pshr(acc, 13)), MAX16) as i16;
            }
        }
        self.signal.copy_within(L_FRAME.., 0);
        self.prev_lsp = lsp;
        self.weighted.copy_within(L_FRAME.., 0);
        self.exc.copy_within(L_FRAME.., 0);
        pack(&params, out);
        FrameKind::Speech
    }

    /// Weighted speech (A.3.3) of the current frame into `weighted[143..]` and LP residual.
    fn weighted_speech(&mut self, qlp: &[i16; 2 * LP_ORDER], wq: &[i16; 2 * LP_ORDER], residual: &mut [i16; L_FRAME]) {
        for i in 0..L_FRAME {
            let a = if i < L_SUBFRAME { &qlp[..LP_ORDER] } else { &qlp[LP_ORDER..] };
            let s = CUR + i;
            let mut acc = sshl(self.signal[s] as i32, 12);
            for j in 0..LP_ORDER {
                acc = mac16_16(acc, a[j] as i32, self.signal[s - j - 1] as i32);
            }
            residual[i] = saturate(pshr(acc, 12), MAX16) as i16;
        }
        for k in 0..2 {
            let a = weighting_lowpass(&wq[k * LP_ORDER..(k + 1) * LP_ORDER]);
            synthesis_filter(
                &residual[k * L_SUBFRAME..(k + 1) * L_SUBFRAME],
                &a,
                &mut self.weighted,
                MAX_PITCH + k * L_SUBFRAME,
            );
        }
    }

    /// Memory update of a noise (SID or untransmitted) frame.
    fn noise_update(&mut self, qlp: &[i16; 2 * LP_ORDER]) {
        let wq = weighted_coefficients(qlp);
        let mut residual = [0i16; L_FRAME];
        self.weighted_speech(qlp, &wq, &mut residual);
        for (k, sub) in (0..L_FRAME).step_by(L_SUBFRAME).enumerate() {
            let mut input = [0i16; L_SUBFRAME];
            for i in 0..L_SUBFRAME {
                input[i] = sub16(residual[sub + i] as i32, self.exc[PAST_EXCITATION + sub + i] as i32) as i16;
            }
            synthesis_filter(&input, &wq[k * LP_ORDER..(k + 1) * LP_ORDER], &mut self.target, LP_ORDER);
        }
        self.signal.copy_within(L_FRAME.., 0);
        self.weighted.copy_within(L_FRAME.., 0);
        self.exc.copy_within(L_FRAME.., 0);
    }
}

/// Weighted LP coefficients A(z/gamma), gamma = 0.75, for both subframes.
fn weighted_coefficients(qlp: &[i16; 2 * LP_ORDER]) -> [i16; 2 * LP_ORDER] {
    let mut wq = [0i16; 2 * LP_ORDER];
    for i in 0..2 * LP_ORDER {
        wq[i] = mult16_16_p15(qlp[i] as i32, GAMMA_E[i % LP_ORDER]) as i16;
    }
    wq
}
