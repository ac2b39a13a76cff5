//! G.722 (64 kbit/s wideband) codec. Work in progress.
