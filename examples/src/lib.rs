#![doc = include_str!("../../docs/writing-a-backend.md")]
