//! Voice processing: echo cancellation, noise suppression, gain control, voice activity. Work in progress.
