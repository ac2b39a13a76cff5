//! Runs a compiled graph over whole files on a driven engine: the same engine, command
//! path and plan executor as live calls, with the host feeding one quantum per cycle.

use super::CliError;
use rvoip_media_core::engine::{InputEndpoint, OutputEndpoint};
use rvoip_media_core::prelude::*;
use std::time::Instant;

/// What an offline run produced.
pub struct OfflineRun {
    /// Per audio graph output (in plan order): the concatenated quanta.
    pub audio: Vec<Vec<f32>>,
    /// Per packet graph output (in plan order): each cycle's packet payload, if any.
    pub packets: Vec<Vec<Option<Vec<u8>>>>,
    /// The partition's statistics at the end.
    pub stats: PartitionStats,
    /// Wall time of the cycles alone (no file I/O), seconds.
    pub proc_seconds: f64,
}

/// Feeds `inputs[i]` to the i-th graph input (all must be audio), zero-padded, for
/// `cycles` cycles, and collects every output.
pub fn run(graph: CompiledGraph, inputs: &[&[f32]], cycles: usize) -> Result<OfflineRun, CliError> {
    let n_ports = graph.plan.inputs.len() + graph.plan.outputs.len();
    let cfg = EngineConfig {
        quantum: graph.plan.quantum,
        frame_pool: (4 * n_ports).max(64),
        packet_pool: (4 * n_ports).max(64),
        ring_capacity: 4,
        command_capacity: 16,
        ..EngineConfig::default()
    };
    let (engine, mut driver) = Engine::driven(cfg)?;
    let mut part = engine.add_partition(graph)?;
    let mut ins = Vec::new();
    for (name, kind, ep) in part.io.inputs.drain(..) {
        match ep {
            InputEndpoint::Audio(a) => ins.push(a),
            _ => return Err(CliError::Usage(format!("graph input '{name}' is {kind}; offline runs feed audio only"))),
        }
    }
    if ins.len() != inputs.len() {
        return Err(CliError::Usage(format!("graph has {} inputs, {} streams given", ins.len(), inputs.len())));
    }
    let mut outs: Vec<OutputEndpoint> = part.io.outputs.drain(..).map(|(_, _, ep)| ep).collect();
    let mut audio: Vec<Vec<f32>> = Vec::new();
    let mut packets: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
    for ep in &outs {
        match ep {
            OutputEndpoint::Audio(_) => audio.push(Vec::new()),
            OutputEndpoint::Packet(_) => packets.push(Vec::new()),
            OutputEndpoint::Control(_) => {}
        }
    }
    let mut scratch: Vec<f32> = Vec::new();
    let t0 = Instant::now();
    for c in 0..cycles {
        for (ep, data) in ins.iter_mut().zip(inputs) {
            let n = ep.samples_per_quantum();
            let start = (c * n).min(data.len());
            let end = ((c + 1) * n).min(data.len());
            scratch.clear();
            scratch.extend_from_slice(&data[start..end]);
            scratch.resize(n, 0.0);
            ep.push(&scratch).map_err(|e| CliError::Usage(format!("feeding input: {e}")))?;
        }
        driver.process_cycle();
        let (mut ai, mut pi) = (0, 0);
        for ep in outs.iter_mut() {
            match ep {
                OutputEndpoint::Audio(a) => {
                    let f = a.pop().ok_or(CliError::Internal("no audio output after a cycle"))?;
                    audio[ai].extend_from_slice(f.samples());
                    ai += 1;
                }
                OutputEndpoint::Packet(p) => {
                    packets[pi].push(p.pop().map(|pk| pk.payload().to_vec()));
                    pi += 1;
                }
                OutputEndpoint::Control(_) => {}
            }
        }
    }
    let proc_seconds = t0.elapsed().as_secs_f64();
    let stats = engine.partition_stats(part.id)?;
    Ok(OfflineRun { audio, packets, stats, proc_seconds })
}

/// Cycles needed to cover `samples` samples plus `latency_ns` of delay at `rate`.
pub fn cycles_for(samples: usize, rate: u32, quantum: Quantum, latency_ns: u64) -> usize {
    let per = quantum.frames_at(rate).unwrap_or(1).max(1);
    let extra = (latency_ns as u128 * u128::from(rate)).div_ceil(1_000_000_000) as usize;
    (samples + extra).div_ceil(per)
}
