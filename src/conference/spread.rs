//! A shard of a room spread over several workers: the rows the shards share, and what a
//! policy room's shard publishes in its row each cycle — its [`Claim`]s with their rows,
//! and its part in the dominant-speaker choice ([`DominantClaim`]) — written as `f32`
//! bit patterns and read back by every shard.

use super::deadline::PartnerDeadline;
use crate::engine::rt::{now_ns, thread_cpu_ns};
use crate::sync::rows::SharedRows;
use rvoip_media_nodes::mixer::{Claim, DominantClaim};
use std::sync::Arc;

/// Words of a claim in a shard's published row (port, flags, level, cycles heard).
const CLAIM_WORDS: usize = 4;
/// Words of a [`DominantClaim`] in a shard's published row: the dominant speaker, its
/// scores (a flag, then three `f64`s of two words), the one gone, the challenger (port and
/// three scores).
const DOMINANT_WORDS: usize = 16;
/// A port word that names nobody.
const NOBODY: u32 = u32::MAX;

/// What makes a kernel one shard of a room spread over several workers: the rows the
/// shards share (one per shard: its legs' partial total), its place among them, how long it
/// waits for the others' rows.
pub(crate) struct Spread {
    pub(super) rows: Arc<SharedRows>,
    pub(super) shard: usize,
    pub(super) deadline: PartnerDeadline,
    /// Its partial total of the cycle (what it publishes and adds in its place).
    partial: Box<[f32]>,
    /// The last cycle it ran.
    pub(super) last: u64,
    /// Partners' rows that were not there in time (one per partner per cycle).
    pub(super) late: u64,
    /// Cycles whose row it could not publish (left out of the partners' mix).
    pub(super) unpublished: u64,
    /// The worker's CPU time spent waiting for partners' rows (ns, since the start).
    pub(super) waited_ns: u64,
    /// A policy room's exchange: claims per shard, and every shard's claims of the cycle
    /// with their rows (copied out of the shared rows).
    pub(super) claims_per_shard: usize,
    pub(super) claims: Vec<Claim>,
    claim_rows: Box<[f32]>,
    /// The port of each row in `claim_rows` (the claims are sorted by the selection).
    row_ports: Vec<u32>,
    /// Every shard's part in the dominant-speaker choice this cycle, by shard (`None`: its
    /// row did not come).
    pub(super) dominant: Vec<Option<DominantClaim>>,
    quantum_len: usize,
}

/// The length of a spread room's shared row: one quantum of `quantum_len` samples (its legs'
/// partial total), or with a talker policy of `max_talkers` a count, the dominant-speaker
/// claim, the claims and their rows ([`Spread::exchange_claims`]).
pub(crate) fn shared_row_len(quantum_len: usize, max_talkers: Option<usize>) -> usize {
    match max_talkers {
        None => quantum_len,
        Some(n) => 1 + DOMINANT_WORDS + 2 * n * (CLAIM_WORDS + quantum_len),
    }
}

/// A port (or nobody) as a word.
fn port_word(p: Option<u32>) -> f32 {
    f32::from_bits(p.unwrap_or(NOBODY))
}

/// A word as a port (or nobody).
fn word_port(w: f32) -> Option<u32> {
    Some(w.to_bits()).filter(|&p| p != NOBODY)
}

/// Three scores into six words (each `f64` as its high and low 32 bits).
fn put_scores(w: &mut [f32], s: &[f64; 3]) {
    for (k, x) in s.iter().enumerate() {
        let b = x.to_bits();
        w[2 * k] = f32::from_bits((b >> 32) as u32);
        w[2 * k + 1] = f32::from_bits(b as u32);
    }
}

/// Three scores from six words ([`put_scores`]).
fn get_scores(w: &[f32]) -> [f64; 3] {
    std::array::from_fn(|k| f64::from_bits(u64::from(w[2 * k].to_bits()) << 32 | u64::from(w[2 * k + 1].to_bits())))
}

/// `c` into its [`DOMINANT_WORDS`] words.
fn put_dominant(w: &mut [f32], c: &DominantClaim) {
    w[0] = port_word(c.dominant);
    w[1] = f32::from_bits(u32::from(c.held.is_some()));
    put_scores(&mut w[2..8], &c.held.unwrap_or_default());
    w[8] = port_word(c.gone);
    w[9] = port_word(c.candidate.map(|(p, _)| p));
    put_scores(&mut w[10..16], &c.candidate.map_or([0.0; 3], |(_, s)| s));
}

/// A [`DominantClaim`] from its words ([`put_dominant`]).
fn get_dominant(w: &[f32]) -> DominantClaim {
    DominantClaim {
        dominant: word_port(w[0]),
        held: (w[1].to_bits() != 0).then(|| get_scores(&w[2..8])),
        gone: word_port(w[8]),
        candidate: word_port(w[9]).map(|p| (p, get_scores(&w[10..16]))),
    }
}

impl Spread {
    /// Shard `shard` of `rows`, waiting for the others until `deadline` each cycle (control
    /// side); with `max_talkers`, a policy room's shard exchanging claims of `quantum_len`
    /// rows.
    pub(crate) fn new(
        rows: Arc<SharedRows>,
        shard: usize,
        deadline: PartnerDeadline,
        quantum_len: usize,
        max_talkers: Option<usize>,
    ) -> Spread {
        let partial = vec![0.0; rows.row_len()].into_boxed_slice();
        let claims_per_shard = 2 * max_talkers.unwrap_or(0);
        let all = claims_per_shard * rows.shards();
        Spread {
            shard,
            deadline,
            partial,
            last: 0,
            late: 0,
            unpublished: 0,
            waited_ns: 0,
            claims_per_shard,
            claims: Vec::with_capacity(all),
            claim_rows: vec![0.0; all * quantum_len].into_boxed_slice(),
            row_ports: Vec::with_capacity(all),
            dominant: vec![None; rows.shards()],
            quantum_len,
            rows,
        }
    }

    /// Starts the shard's next cycle ([`SharedRows::next_cycle`]).
    pub(super) fn start_cycle(&mut self) {
        self.last = self.rows.next_cycle(self.shard, self.last);
    }

    /// The room's total from the shard's partial `total` (its own legs', pass 1): publishes
    /// the partial, waits (until the deadline for a cycle that started at `now`) for the
    /// other shards' of this cycle, and sums those that are there in shard order into
    /// `total`. Real-time: the wait is a spin with a deadline.
    pub(super) fn add_partners(&mut self, now: u64, total: &mut [f32]) {
        let n = self.partial.len().min(total.len());
        self.partial[..n].copy_from_slice(&total[..n]);
        let from = self.publish_and_wait(now);
        self.rows.sum(self.shard, self.last, from, &self.partial, total);
    }

    /// Publishes the shard's row (`partial`) for its cycle and waits (until the deadline for
    /// a cycle that started at `now`) for the other shards'; returns the shards whose rows
    /// are there (a bit each). Real-time: the wait is a spin with a deadline.
    fn publish_and_wait(&mut self, now: u64) -> u64 {
        let (rows, shard, cycle) = (&*self.rows, self.shard, self.last);
        let published = rows.publish(shard, cycle, &self.partial);
        let deadline = self.deadline.at(now);
        let waiting = thread_cpu_ns();
        let mut from = 0u64;
        for j in (0..rows.shards()).filter(|&j| j != shard) {
            if rows.wait(j, cycle, || now_ns() < deadline) {
                from |= 1 << j;
            } else {
                self.late += 1;
            }
        }
        self.waited_ns += thread_cpu_ns().saturating_sub(waiting);
        self.unpublished += u64::from(!published);
        from
    }

    /// A policy room's cycle across shards: publishes this shard's `claims` of its legs that
    /// may be heard, each with the row `fill_row` writes (its contribution to the mix), and
    /// its `dominant` claim; waits for the others', and collects every shard's claims (in
    /// `self.claims`, their rows in `self.claim_rows`, found by [`Spread::claim_row`]) and
    /// dominant claims (`self.dominant`). Real-time.
    pub(super) fn exchange_claims(
        &mut self,
        now: u64,
        claims: &[Claim],
        dominant: &DominantClaim,
        fill_row: impl Fn(&Claim, &mut [f32]),
    ) {
        let q = self.quantum_len;
        let c = self.claims_per_shard;
        let at = |k: usize| 1 + DOMINANT_WORDS + k * CLAIM_WORDS;
        let (head, rows) = self.partial.split_at_mut(at(c));
        head[0] = f32::from_bits(claims.len() as u32);
        put_dominant(&mut head[1..at(0)], dominant);
        for (k, claim) in claims.iter().take(c).enumerate() {
            let w = &mut head[at(k)..at(k + 1)];
            w[0] = f32::from_bits(claim.port);
            w[1] = f32::from_bits(u32::from(claim.eligible) | u32::from(claim.heard) << 1);
            w[2] = claim.smooth;
            w[3] = f32::from_bits(claim.heard_for);
            fill_row(claim, &mut rows[k * q..(k + 1) * q]);
        }
        let from = self.publish_and_wait(now);
        let (all, claim_rows, row_ports) = (&mut self.claims, &mut self.claim_rows, &mut self.row_ports);
        all.clear();
        row_ports.clear();
        let shards = &mut self.dominant;
        shards.fill(None);
        self.rows.read(self.shard, self.last, from, &self.partial, |shard, row| {
            let (head, rows) = row.split_at(at(c));
            if let Some(d) = shards.get_mut(shard) {
                *d = Some(get_dominant(&head[1..at(0)]));
            }
            let n = (head[0].to_bits() as usize).min(c);
            for k in 0..n {
                let w = &head[at(k)..at(k + 1)];
                let flags = w[1].to_bits();
                let at = all.len();
                all.push(Claim {
                    port: w[0].to_bits(),
                    eligible: flags & 1 != 0,
                    heard: flags & 2 != 0,
                    smooth: w[2],
                    heard_for: w[3].to_bits(),
                });
                row_ports.push(w[0].to_bits());
                claim_rows[at * q..(at + 1) * q].copy_from_slice(&rows[k * q..(k + 1) * q]);
            }
        });
    }

    /// The row published with the claim of `port` this cycle, if any.
    pub(super) fn claim_row(&self, port: usize) -> Option<&[f32]> {
        let q = self.quantum_len;
        let at = self.row_ports.iter().position(|&p| p as usize == port)?;
        Some(&self.claim_rows[at * q..(at + 1) * q])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dominant_claim_reads_back_bit_for_bit() {
        let scores = [1e-10, 3.25, f64::from_bits(0x4047_1234_5678_9abc)];
        let claims = [
            DominantClaim::default(),
            DominantClaim { dominant: Some(7), held: Some(scores), gone: None, candidate: None },
            DominantClaim { dominant: None, held: None, gone: Some(0), candidate: Some((u32::MAX - 1, scores)) },
        ];
        for c in claims {
            let mut w = [0.0f32; DOMINANT_WORDS];
            put_dominant(&mut w, &c);
            // Through a row as the shards copy it.
            let row: Vec<f32> = w.to_vec();
            assert_eq!(get_dominant(&row), c);
        }
    }
}
