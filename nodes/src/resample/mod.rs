//! Polyphase windowed-sinc resampler. Work in progress.
