//! The control <-> worker protocol: commands on one [`spsc`](super::spsc) ring, replies on
//! another.
//!
//! Every command produces exactly one reply ([`WorkerEnd::serve`] enforces it by
//! construction), and the control side sends only while fewer than `capacity` commands are
//! unanswered. So at most `capacity` replies can ever wait on a reply ring of `capacity`
//! slots: the worker's reply push cannot fail, and nothing is dropped. A command that does
//! not fit is handed back to the caller as [`Full`], never lost.
//!
//! Whatever a worker lets go of (an old plan, a removed partition) travels back inside the
//! reply and is dropped by the control side, so the worker never frees memory.

use super::spsc::{ring, Consumer, Producer};

/// The command ring had no room; the command is returned.
///
/// ```
/// use rvoip_media_sync::command::{channel, Full};
/// let (mut control, _worker) = channel::<&str, ()>(1);
/// control.send("add partition").unwrap();
/// // The worker has not answered yet: the next command comes back, not lost.
/// assert_eq!(control.send("set gain"), Err(Full("set gain")));
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct Full<C>(pub C);

/// The control side: sends commands, collects replies.
pub struct ControlEnd<C, R> {
    commands: Producer<C>,
    replies: Consumer<R>,
    in_flight: usize,
    capacity: usize,
}

/// The worker side: applies commands and answers each one.
pub struct WorkerEnd<C, R> {
    commands: Consumer<C>,
    replies: Producer<R>,
    lost_replies: u64,
}

/// A command channel for `capacity` unanswered commands. Allocates here only.
///
/// ```
/// use rvoip_media_sync::command::channel;
/// let (mut control, mut worker) = channel::<u32, u32>(4);
/// control.send(20).unwrap();
/// control.send(21).unwrap();
/// assert_eq!(worker.serve(8, |c| c * 2), 2); // applies both, one reply each
/// let mut got = Vec::new();
/// control.poll(|r| got.push(r));
/// assert_eq!(got, [40, 42]);
/// assert_eq!(control.in_flight(), 0);
/// ```
pub fn channel<C, R>(capacity: usize) -> (ControlEnd<C, R>, WorkerEnd<C, R>) {
    let capacity = capacity.max(1);
    let (ctx, crx) = ring(capacity);
    let (rtx, rrx) = ring(capacity);
    (
        ControlEnd { commands: ctx, replies: rrx, in_flight: 0, capacity },
        WorkerEnd { commands: crx, replies: rtx, lost_replies: 0 },
    )
}

impl<C, R> ControlEnd<C, R> {
    /// Sends a command unless `capacity` commands are unanswered (after collecting replies
    /// that already arrived, which are passed to `on_reply` in order).
    pub fn send_or_poll(&mut self, cmd: C, on_reply: impl FnMut(R)) -> Result<(), Full<C>> {
        if self.in_flight == self.capacity {
            self.poll(on_reply);
        }
        self.send(cmd)
    }

    /// Sends a command unless `capacity` commands are unanswered.
    pub fn send(&mut self, cmd: C) -> Result<(), Full<C>> {
        if self.in_flight == self.capacity {
            return Err(Full(cmd));
        }
        // Cannot fail: the command ring holds `capacity` and at most `in_flight` commands
        // are unread. Still, hand the command back rather than assume.
        self.commands.push(cmd).map_err(Full)?;
        self.in_flight += 1;
        Ok(())
    }

    /// Passes every reply that has arrived to `on_reply`, oldest first; returns how many.
    pub fn poll(&mut self, mut on_reply: impl FnMut(R)) -> usize {
        let mut n = 0;
        while let Some(r) = self.replies.pop() {
            self.in_flight -= 1;
            n += 1;
            on_reply(r);
        }
        n
    }

    /// Commands sent and not yet answered (as far as replies were collected).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The most commands that can be unanswered at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl<C, R> WorkerEnd<C, R> {
    /// Applies up to `max` waiting commands with `apply`, pushing each one's reply.
    /// Returns the number applied. Real-time safe: no allocation.
    pub fn serve(&mut self, max: usize, mut apply: impl FnMut(C) -> R) -> usize {
        let mut n = 0;
        while n < max {
            let Some(cmd) = self.commands.pop() else { break };
            let reply = apply(cmd);
            if let Err(reply) = self.replies.push(reply) {
                // Impossible by the credit rule above; never drop (a drop could free memory
                // on this thread): leak it and count it so tests can assert on it.
                std::mem::forget(reply);
                self.lost_replies += 1;
            }
            n += 1;
        }
        n
    }

    /// Replies that could not be pushed (0 unless the protocol is broken).
    pub fn lost_replies(&self) -> u64 {
        self.lost_replies
    }
}
