//! [`MediaSessionController`]: sessions by dialog, the calls a SIP stack makes.

use super::{DialogId, Error, MediaEngine, MediaSession, MediaSessionParams, MediaStatistics, SessionEvent};
use crate::engine::{AudioIn, AudioOut};
use crate::transport::TransportStats;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

/// Keeps one [`MediaSession`] per dialog. Every method returns promptly; the `async` ones
/// await the worker's acknowledgement through an [`Ack`](super::Ack), which needs no
/// particular runtime and never blocks the executor's thread. The map's lock is never held
/// across an await.
///
/// ```
/// use rvoip_media_core::session::*;
/// use rvoip_media_core::nodes::codec::CodecId;
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     // A minimal executor for the doctest: any runtime works the same.
/// #     use std::task::{Context, Poll, Wake, Waker};
/// #     struct T(std::thread::Thread);
/// #     impl Wake for T { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
/// #     let waker = Waker::from(std::sync::Arc::new(T(std::thread::current())));
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(&waker)) { return v } std::thread::park() }
/// # }
/// let engine = MediaEngine::start(MediaEngineConfig::builder().workers(1).realtime(None).build())?;
/// let calls = MediaSessionController::new(engine);
/// let dialog = DialogId::from("a84b4c76e66710");
/// let params = MediaSessionParams::new("127.0.0.1:0".parse().unwrap(), Some("127.0.0.1:9".parse().unwrap()), CodecId::Pcmu)?;
/// block_on(async {
///     let local = calls.start_media(dialog.clone(), params).await?;
///     assert_ne!(local.port(), 0);
///     calls.set_audio_muted(&dialog, true).await?;
///     assert!(calls.is_audio_muted(&dialog)?);
///     calls.stop_media(&dialog).await?;
///     assert!(matches!(calls.is_audio_muted(&dialog), Err(Error::NoSuchDialog(_))));
///     Ok::<(), Error>(())
/// })?;
/// # Ok::<(), Error>(())
/// ```
pub struct MediaSessionController {
    pub(super) engine: MediaEngine,
    sessions: Mutex<HashMap<DialogId, MediaSession>>,
    /// Conferences ([`MediaSessionController::with_conference_support`]).
    pub(super) conferences: Option<Mutex<super::conference::Conferences>>,
}

impl MediaSessionController {
    /// A controller over `engine`.
    pub fn new(engine: MediaEngine) -> Self {
        MediaSessionController { engine, sessions: Mutex::new(HashMap::new()), conferences: None }
    }

    /// The media engine.
    pub fn engine(&self) -> &MediaEngine {
        &self.engine
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<DialogId, MediaSession>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the dialog's session.
    ///
    /// # Errors
    /// [`Error::NoSuchDialog`], or `f`'s error.
    pub fn with_session<T>(
        &self,
        dialog: &DialogId,
        f: impl FnOnce(&mut MediaSession) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut map = self.lock();
        let s = map.get_mut(dialog).ok_or_else(|| Error::NoSuchDialog(dialog.clone()))?;
        f(s)
    }

    /// Creates and starts the dialog's session; resolves with its local RTP address once
    /// its graph runs.
    ///
    /// # Errors
    /// [`Error::DialogExists`], and those of [`MediaEngine::create_media_session`] and
    /// [`MediaSession::start`].
    pub async fn start_media(&self, dialog: DialogId, params: MediaSessionParams) -> Result<SocketAddr, Error> {
        let (local, ack) = {
            let mut map = self.lock();
            if map.contains_key(&dialog) {
                return Err(Error::DialogExists(dialog));
            }
            let mut s = self.engine.create_media_session(dialog.clone(), params)?;
            let ack = s.start()?;
            let local = s.local_addr();
            map.insert(dialog, s);
            (local, ack)
        };
        ack.await?;
        Ok(local)
    }

    /// Stops and forgets the dialog's session; resolves once its graph left the worker.
    ///
    /// # Errors
    /// [`Error::NoSuchDialog`], [`Error::Engine`].
    pub async fn stop_media(&self, dialog: &DialogId) -> Result<(), Error> {
        let ack = {
            let mut s = self.lock().remove(dialog).ok_or_else(|| Error::NoSuchDialog(dialog.clone()))?;
            s.stop()?
        };
        ack.await
    }

    /// Applies a re-INVITE (remote, direction, codec); see [`MediaSession::update`].
    ///
    /// # Errors
    /// [`Error::NoSuchDialog`] and those of [`MediaSession::update`].
    pub async fn update_media(&self, dialog: &DialogId, params: MediaSessionParams) -> Result<(), Error> {
        let ack = self.with_session(dialog, |s| s.update(params))?;
        ack.await
    }

    /// Mutes or unmutes what the dialog sends (RTP keeps flowing with encoded silence).
    ///
    /// # Errors
    /// [`Error::NoSuchDialog`], [`Error::Engine`].
    pub async fn set_audio_muted(&self, dialog: &DialogId, muted: bool) -> Result<(), Error> {
        let ack = self.with_session(dialog, |s| s.set_muted(muted))?;
        ack.await
    }

    /// Whether the dialog's microphone is muted.
    ///
    /// # Errors
    /// [`Error::NoSuchDialog`].
    pub fn is_audio_muted(&self, dialog: &DialogId) -> Result<bool, Error> {
        self.with_session(dialog, |s| Ok(s.is_muted()))
    }

    /// The received audio of the dialog (taken once).
    ///
    /// # Errors
    /// [`Error::NoSuchDialog`].
    pub fn audio_tap(&self, dialog: &DialogId) -> Result<Option<AudioOut>, Error> {
        self.with_session(dialog, |s| Ok(s.take_audio_out()))
    }

    /// Where the host pushes the audio the dialog sends (taken once).
    ///
    /// # Errors
    /// [`Error::NoSuchDialog`].
    pub fn audio_input(&self, dialog: &DialogId) -> Result<Option<AudioIn>, Error> {
        self.with_session(dialog, |s| Ok(s.take_audio_in()))
    }

    /// RTP/RTCP counters of the dialog.
    ///
    /// # Errors
    /// [`Error::NoSuchDialog`].
    pub fn get_rtp_statistics(&self, dialog: &DialogId) -> Result<TransportStats, Error> {
        self.with_session(dialog, |s| Ok(s.rtp_statistics()))
    }

    /// Quality and performance of the dialog.
    ///
    /// # Errors
    /// [`Error::NoSuchDialog`].
    pub fn get_media_statistics(&self, dialog: &DialogId) -> Result<MediaStatistics, Error> {
        self.with_session(dialog, |s| Ok(s.statistics()))
    }

    /// Every event of the dialog since the last call.
    ///
    /// # Errors
    /// [`Error::NoSuchDialog`].
    pub fn events(&self, dialog: &DialogId) -> Result<Vec<SessionEvent>, Error> {
        self.with_session(dialog, |s| Ok(std::iter::from_fn(|| s.poll_event()).collect()))
    }

    /// The dialogs with a session.
    pub fn dialogs(&self) -> Vec<DialogId> {
        self.lock().keys().cloned().collect()
    }
}
