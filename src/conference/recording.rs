//! Recordings: what a member sends ([`Room::record_member`]) or what the room's listeners
//! hear ([`Room::record_mix`]), streamed to a 16-bit WAV file ([`WavWriter`]: the exact
//! `f32 → i16` kernel, and RF64 past RIFF's 4 GiB, about 12 hours at 48 kHz).
//!
//! The worker hands each quantum to a graph output's ring (bounded: the engine's
//! `ring_capacity` frames from its pool); a writer thread of the recording's own drains the
//! ring every 5 ms and writes through a buffered file. Memory is bounded by the ring and
//! the file buffer whatever the length; the worker never touches a file. A writer that
//! falls more than the ring behind loses frames, counted in the partition's
//! `ring_full_drops`.

use super::leg::Leg;
use super::{LegOptions, Room};
use crate::engine::{AudioOut, Engine, EngineError, Ticket};
use rvoip_media_graph::{AudioFormat, NodeKey, PortKind};
use rvoip_media_nodes::mixer::{MemberSettings, MixerMembership};
use rvoip_media_nodes::wav::{WavError, WavSampleFormat, WavWriter};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running recording. Stop it with [`Room::stop_recording`], then [`Recording::finish`]
/// (which waits for the writer to drain what is left and closes the file).
pub struct Recording {
    /// The graph output (a member tap) or the recorder's member name (a mix).
    target: Target,
    path: PathBuf,
    writer: JoinHandle<Result<u64, WavError>>,
}

enum Target {
    Tap(NodeKey),
    Member(String),
}

impl Recording {
    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the writer has drained the ring (after [`Room::stop_recording`] was
    /// applied by the worker and the engine collected its reply: any control call or
    /// [`Engine::poll`]) and the file is closed; returns the quanta written.
    ///
    /// # Errors
    /// [`WavError::Write`]: the file could not be written (or its writer thread panicked).
    pub fn finish(self) -> Result<u64, WavError> {
        self.writer.join().unwrap_or_else(|_| Err(WavError::Write(std::io::Error::other("the writer thread panicked"))))
    }
}

fn spawn_writer(
    path: &Path,
    format: AudioFormat,
    mut out: AudioOut,
) -> Result<JoinHandle<Result<u64, WavError>>, EngineError> {
    let mut w = WavWriter::create(path, format.rate, format.channels, WavSampleFormat::Int16)
        .map_err(|e| EngineError::NodeSetup { node: path.display().to_string(), reason: e.to_string() })?;
    Ok(std::thread::spawn(move || {
        let mut quanta = 0u64;
        loop {
            let abandoned = out.is_abandoned();
            while let Some(f) = out.pop() {
                w.write(f.samples())?;
                quanta += 1;
            }
            if abandoned {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        w.finish()?;
        Ok(quanta)
    }))
}

impl Room {
    /// A kernel room's legs have no node to tap and its kernel no port for a recorder.
    fn refuse_in_kernel(&self, name: &str) -> Result<(), EngineError> {
        if self.config.kernel {
            return Err(EngineError::NodeSetup {
                node: name.to_string(),
                reason: "a kernel room does not record".into(),
            });
        }
        Ok(())
    }

    /// Records what member `name` sends into the mix (after its processing chain, before
    /// its input gain) to `path`.
    ///
    /// # Errors
    /// [`EngineError::UnknownNodeName`] for a name not in the room, [`EngineError::NodeSetup`]
    /// if the file cannot be created or the room is a kernel room (which does not record),
    /// those of [`Edit::commit`](crate::engine::Edit::commit).
    pub fn record_member(
        &mut self,
        engine: &Engine,
        name: &str,
        path: impl AsRef<Path>,
    ) -> Result<Recording, EngineError> {
        let leg = self.legs.get(name).ok_or_else(|| self.unknown(name))?;
        self.refuse_in_kernel(name)?;
        let source = leg.to_mixer.ok_or_else(|| self.unknown(name))?;
        let mut edit = engine.edit(self.id)?;
        let out_name = format!("{name}.rec{}", self.recordings);
        let k = edit.add_output(out_name.clone(), PortKind::Audio(self.config.format))?;
        edit.connect(source, 0, k, 0)?;
        let out = edit.io().take_audio_out(&out_name).ok_or_else(|| self.unknown(&out_name))?;
        let writer = spawn_writer(path.as_ref(), self.config.format, out)?;
        edit.commit()?;
        self.recordings += 1;
        Ok(Recording { target: Target::Tap(k), path: path.as_ref().to_path_buf(), writer })
    }

    /// Records what the room's listeners hear — everyone heard, or in a policy room the
    /// heard talkers and comfort noise — to `path`. The recorder takes a mixer port as a
    /// muted member without input named `rec.mix{n}` (not counted against the member limit).
    ///
    /// # Errors
    /// As [`Room::record_member`].
    pub fn record_mix(&mut self, engine: &Engine, path: impl AsRef<Path>) -> Result<Recording, EngineError> {
        let name = format!("rec.mix{}", self.recordings);
        self.refuse_in_kernel(&name)?;
        let mut edit = engine.edit(self.id)?;
        let before = (self.free.clone(), self.capacity, self.mixer, self.names.clone());
        let events_before = self.events.len();
        let result = (|| {
            if self.free.is_empty() {
                self.grow(&mut edit, engine, &[])?;
            }
            let port = *self.free.first().ok_or_else(|| self.unknown(&name))?;
            let o = edit.add_output(format!("{name}.out"), PortKind::Audio(self.config.format))?;
            let settings = MemberSettings { muted: true, ..LegOptions::default().settings };
            let leg = Leg {
                port,
                nodes: vec![o],
                to_mixer: None,
                from_mixer: o,
                decode: None,
                encode: None,
                vad: None,
                variant: None,
                codec: None,
                settings,
                kernel: None,
            };
            self.wire(&mut edit, self.mixer, self.capacity, &leg)?;
            edit.message(self.mixer, MixerMembership::Join(port))?;
            edit.message(self.mixer, rvoip_media_nodes::mixer::MemberUpdate { port, settings })?;
            let out = edit.io().take_audio_out(&format!("{name}.out")).ok_or_else(|| self.unknown(&name))?;
            let writer = spawn_writer(path.as_ref(), self.config.format, out)?;
            Ok((leg, writer))
        })();
        let committed = result.and_then(|(leg, writer)| edit.commit().map(|_| (leg, writer)));
        match committed {
            Ok((leg, writer)) => {
                self.free.remove(&leg.port);
                self.names[leg.port] = Some(name.clone());
                self.legs.insert(name.clone(), leg);
                self.recorders += 1;
                self.recordings += 1;
                Ok(Recording { target: Target::Member(name), path: path.as_ref().to_path_buf(), writer })
            }
            Err(e) => {
                (self.free, self.capacity, self.mixer, self.names) = before;
                self.events.truncate(events_before);
                Err(e)
            }
        }
    }

    /// Stops a recording: its output leaves the graph at the next cycle, after which the
    /// writer drains what is queued ([`Recording::finish`]).
    ///
    /// # Errors
    /// Those of [`Edit::commit`](crate::engine::Edit::commit) and [`Room::leave`].
    pub fn stop_recording(&mut self, engine: &Engine, recording: &Recording) -> Result<Ticket, EngineError> {
        match &recording.target {
            Target::Tap(k) => {
                let mut edit = engine.edit(self.id)?;
                edit.remove(*k)?;
                Ok(edit.commit()?.ticket)
            }
            Target::Member(name) => {
                let t = self.leave(engine, name)?;
                self.recorders -= 1;
                Ok(t)
            }
        }
    }
}
