//! The optional neural noise suppressor: RNNoise (J.-M. Valin, "A Hybrid DSP/Deep Learning
//! Approach to Real-Time Full-Band Speech Enhancement", 2018) through the pure-Rust
//! `nnnoiseless` port, whose trained weights are compiled in (nothing is loaded at run time).
//!
//! RNNoise can take speech down with the noise: an attenuation limit
//! ([`RnnoiseSuppressor::DEFAULT_ATTENUATION_LIMIT_DB`]) adds the input back at that depth, as
//! DeepFilterNet's `atten_lim_db` does.
//!
//! After RNNoise the classic [`NoiseSuppressor`] runs at [`NsLevel::Low`] by default
//! ([`RnnoiseSuppressor::with_post_suppressor`]): RNNoise leaves recurring clicks (keyboard)
//! and some stationary residual, which the classic suppressor's click limiter and
//! speech-presence noise tracker take. Measured with the kit's scorer (PESQ-WB gain over the
//! noisy input): RNNoise alone +0.33 on the kit's scenarios and +0.12 on a second set with
//! other talkers; with the low classic stage +0.47 and +0.21, no noise type below its input.
//!
//! RNNoise works on 10 ms frames at 48 kHz. At other rates the frame goes through the
//! project's polyphase resampler up to 48 kHz and back, with fixed FIFOs in between so that
//! every call takes and gives exactly one 10 ms frame: the FIFOs are primed with silence at
//! construction, and the delay that adds is part of [`RnnoiseSuppressor::latency`]. Every
//! buffer of ours is allocated by [`RnnoiseSuppressor::new`], which also runs one frame
//! through a throwaway network so that nnnoiseless's process-wide tables exist.
//!
//! **Per-thread state:** nnnoiseless computes its FFTs through the `easyfft` crate, which
//! keeps FFT plans and scratch buffers in thread-locals created on a thread's first call (48
//! allocations). [`prepare_thread`] builds them on the calling thread; the engine's workers
//! call it ([`crate::prepare_thread`]) before their first cycle, so a suppressor built on the
//! control side allocates nothing on a worker. A thread of the host's own that runs one
//! without that call allocates on its first frame there, once, and never after (tests
//! `rnnoise_on_a_prepared_thread_allocates_nothing` and
//! `rnnoise_on_a_fresh_thread_allocates_only_on_its_first_frame`).
//!
//! ```
//! use rvoip_media_nodes::apm::RnnoiseSuppressor;
//! let mut ns = RnnoiseSuppressor::new(16_000).unwrap();
//! let mut frame = [0.0f32; 160];
//! ns.process_frame(&mut frame);
//! assert!(frame.iter().all(|v| v.is_finite()));
//! ```

use crate::apm::{check_rate, ApmError, NoiseSuppressor, NsConfig, NsLevel};
use crate::resample::{Resampler, SampleFifo};
use nnnoiseless::DenoiseState;
use rvoip_media_graph::{AudioFormat, NodeSpec, PortKind, PortSpec, ProcessIo, Processor};

/// Builds nnnoiseless's process-wide tables (once per process) and easyfft's per-thread FFT
/// plans and scratch buffers (once per thread) on the calling thread by running one frame of
/// noise through a throwaway network: afterwards an [`RnnoiseSuppressor`] allocates nothing on
/// this thread. Allocates; call it before a thread's real-time work starts (the engine does
/// on its workers through [`crate::prepare_thread`]).
///
/// ```
/// rvoip_media_nodes::apm::ns::rnnoise::prepare_thread();
/// ```
pub fn prepare_thread() {
    let mut warm = DenoiseState::new();
    let noise: Vec<f32> = (0..FRAME_48K).map(|i| 1000.0 * ((i * 7919) % 97) as f32 / 97.0 - 500.0).collect();
    let mut out = vec![0.0; FRAME_48K];
    warm.process_frame(&mut out, &noise);
}

/// RNNoise's frame: 10 ms at 48 kHz.
const FRAME_48K: usize = DenoiseState::FRAME_SIZE;
/// RNNoise works on 16-bit sample values.
const SCALE: f32 = 32768.0;

/// Resampling around the 48 kHz network (absent at 48 kHz).
struct Around {
    up: Resampler,
    down: Resampler,
    /// Upsampled input waiting for a whole 48 kHz frame.
    in48: SampleFifo,
    /// Output at the stream's rate, primed with `prime` zeros.
    out: SampleFifo,
    prime: usize,
    scratch: Vec<f32>,
}

/// RNNoise as a 10 ms frame processor and graph node. See the [module docs](self).
pub struct RnnoiseSuppressor {
    rate: u32,
    hop: usize,
    state: Box<DenoiseState<'static>>,
    around: Option<Around>,
    frame_in: Vec<f32>,
    /// The previous 48 kHz input frame: the input aligned with RNNoise's output.
    dry: Vec<f32>,
    frame_out: Vec<f32>,
    /// Share of the (aligned) input added back to the output (0: none).
    floor: f32,
    /// Classic suppressor after RNNoise (None: RNNoise alone).
    post: Option<NoiseSuppressor>,
    latency: usize,
    vad: f32,
}

impl RnnoiseSuppressor {
    /// Default attenuation limit, dB: the input, delayed to line up with RNNoise's output, is
    /// added back 20 dB down. Measured with the evaluation kit's scorer (PESQ-WB gain over
    /// the noisy input): no limit +0.28 on the kit's scenarios and +0.01 on a second set with
    /// other talkers (where brown and pink noise lost 0.06–0.2); 26 / 20 / 17 / 14 dB: +0.34 /
    /// +0.33 / +0.31 / +0.29 and +0.07 / +0.12 / +0.14 / +0.14.
    pub const DEFAULT_ATTENUATION_LIMIT_DB: f32 = 20.0;

    /// Sets the classic suppressor stage after RNNoise (`None`: RNNoise alone; the default is
    /// [`NsLevel::Low`], see the [module docs](self)).
    pub fn with_post_suppressor(mut self, level: Option<NsLevel>) -> Result<Self, ApmError> {
        let had = self.post.is_some();
        self.post = match level {
            Some(l) => Some(NoiseSuppressor::new(NsConfig::new(self.rate).with_level(l))?),
            None => None,
        };
        // The classic suppressor adds one frame.
        match (had, self.post.is_some()) {
            (true, false) => self.latency -= self.hop,
            (false, true) => self.latency += self.hop,
            _ => {}
        }
        Ok(self)
    }

    /// Sets the attenuation limit, dB (0..=100; 100 is practically none).
    pub fn with_attenuation_limit_db(mut self, db: f32) -> Result<Self, ApmError> {
        if !(0.0..=100.0).contains(&db) {
            return Err(ApmError::Config("RNNoise attenuation limit out of range (0..=100 dB)"));
        }
        self.floor = 10f32.powf(-db / 20.0);
        Ok(self)
    }

    /// A suppressor at `sample_rate` (8000..=192000 Hz in whole 10 ms frames; 48 kHz runs
    /// without resampling).
    pub fn new(sample_rate: u32) -> Result<Self, ApmError> {
        let hop = check_rate(sample_rate)?;
        let around = if sample_rate == 48_000 {
            None
        } else {
            let up = Resampler::new(sample_rate, 48_000, 1).map_err(|_| ApmError::Rate(sample_rate))?;
            let down = Resampler::new(48_000, sample_rate, 1).map_err(|_| ApmError::Rate(sample_rate))?;
            // Every call adds one 48 kHz frame to the upsampled FIFO, so one RNNoise frame
            // runs per call and the output FIFO gains one frame per call: a few primed samples
            // cover the resamplers' uneven chunk sizes.
            let prime = 16;
            let mut out = SampleFifo::new(prime + 4 * hop + 64);
            out.clear_to(prime);
            Some(Around {
                up,
                down,
                in48: SampleFifo::new(4 * FRAME_48K),
                out,
                prime,
                scratch: vec![0.0; 2 * FRAME_48K + 64],
            })
        };
        // RNNoise's overlap-add delays by one of its frames (one 10 ms frame at any rate); the
        // resamplers' filter delays and the primed samples add to it.
        let latency = match &around {
            None => FRAME_48K,
            Some(a) => {
                let up = (a.up.latency() as f64 * f64::from(sample_rate) / 48_000.0).round() as usize;
                a.prime + hop + up + a.down.latency()
            }
        };
        // nnnoiseless builds a process-wide table lazily, on the first frame that is not
        // silence: run one through a throwaway state here, on the control side. (easyfft's
        // per-thread FFT plans are another matter: see the module docs.)
        prepare_thread();
        Ok(RnnoiseSuppressor {
            rate: sample_rate,
            hop,
            state: DenoiseState::new(),
            around,
            frame_in: vec![0.0; FRAME_48K],
            dry: vec![0.0; FRAME_48K],
            frame_out: vec![0.0; FRAME_48K],
            floor: 10f32.powf(-Self::DEFAULT_ATTENUATION_LIMIT_DB / 20.0),
            post: Some(NoiseSuppressor::new(NsConfig::new(sample_rate).with_level(NsLevel::Low))?),
            latency: latency + hop,
            vad: 0.0,
        })
    }

    /// Samples per frame (10 ms).
    pub fn frame_len(&self) -> usize {
        self.hop
    }

    /// Delay from input to output, samples (within a sample; one frame more with the classic
    /// stage).
    pub fn latency(&self) -> usize {
        self.latency
    }

    /// RNNoise's speech probability for the last 48 kHz frame it processed (0..=1).
    pub fn speech_probability(&self) -> f32 {
        self.vad
    }

    fn denoise_48k(&mut self) {
        for v in self.frame_in.iter_mut() {
            *v = (*v * SCALE).clamp(-32768.0, 32767.0);
        }
        self.vad = self.state.process_frame(&mut self.frame_out, &self.frame_in);
        for (v, d) in self.frame_out.iter_mut().zip(&self.dry) {
            *v = if v.is_finite() { (*v + self.floor * d) / SCALE } else { 0.0 };
        }
        self.dry.copy_from_slice(&self.frame_in);
    }

    /// Denoises one 10 ms frame in place (output delayed by [`RnnoiseSuppressor::latency`]).
    /// Returns `false` when the frame held non-finite samples (read as zero) or had the wrong
    /// length (then it is zeroed).
    pub fn process_frame(&mut self, frame: &mut [f32]) -> bool {
        if frame.len() != self.hop {
            frame.fill(0.0);
            return false;
        }
        let mut ok = true;
        for v in frame.iter_mut() {
            if !v.is_finite() {
                *v = 0.0;
                ok = false;
            }
        }
        if self.around.is_none() {
            self.frame_in.copy_from_slice(frame);
            self.denoise_48k();
            frame.copy_from_slice(&self.frame_out);
        } else {
            self.resampled(frame);
        }
        if let Some(p) = self.post.as_mut() {
            p.process_frame(frame);
        }
        ok
    }

    /// One frame through the resamplers and RNNoise (rates other than 48 kHz).
    fn resampled(&mut self, frame: &mut [f32]) {
        // Up to 48 kHz, whole RNNoise frames, back down.
        {
            let a = self.around.as_mut().expect("resampling state");
            let (_, produced) = a.up.process(frame, &mut a.scratch);
            a.in48.push(&a.scratch[..produced]);
        }
        while self.around.as_ref().is_some_and(|a| a.in48.len() >= FRAME_48K) {
            {
                let a = self.around.as_mut().expect("resampling state");
                a.in48.pop_into(&mut self.frame_in);
            }
            self.denoise_48k();
            let a = self.around.as_mut().expect("resampling state");
            let (_, produced) = a.down.process(&self.frame_out, &mut a.scratch);
            a.out.push(&a.scratch[..produced]);
        }
        let a = self.around.as_mut().expect("resampling state");
        a.out.pop_into(frame);
    }

    /// Clears the resampling FIFOs and filters. The recurrent network's state is kept:
    /// `nnnoiseless` rebuilds it only by allocating a new state (with its own copy of the
    /// weights), which a worker must not do, and its gated recurrent units forget the old
    /// signal within about half a second anyway. Build a new suppressor on the control side
    /// for a truly fresh one.
    pub fn reset(&mut self) {
        self.vad = 0.0;
        self.dry.fill(0.0);
        if let Some(p) = self.post.as_mut() {
            p.reset();
        }
        if let Some(a) = self.around.as_mut() {
            a.up.reset();
            a.down.reset();
            a.in48.clear_to(0);
            a.out.clear_to(a.prime);
        }
    }
}

impl Processor for RnnoiseSuppressor {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(AudioFormat::mono(self.rate));
        NodeSpec::new("ns_rnnoise")
            .with_input(PortSpec::required("in", a))
            .with_output(PortSpec::required("out", a))
            .with_latency_ns(self.latency as u64 * 1_000_000_000 / u64::from(self.rate))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let hop = self.hop;
        super::process_in_hops(io, hop, |frame| self.process_frame(frame));
    }

    fn reset(&mut self) {
        RnnoiseSuppressor::reset(self);
    }
}
