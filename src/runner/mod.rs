//! Running `claude` for one dispatch and turning what it printed into a
//! `DispatchResult`.
