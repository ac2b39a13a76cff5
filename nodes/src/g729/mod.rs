//! G.729 Annex A/B codec. Work in progress.
