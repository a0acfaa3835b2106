//! Examples for pgmq-rs live in this package's `[[example]]` targets.
