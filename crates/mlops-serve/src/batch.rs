//! Batch scoring (in progress).
