//! Whose fault an error is: every stage error says whether the user's input caused it.
//!
//! Each stage's error enum implements [`Blamed`]; wrapping variants delegate to the
//! error they wrap. The binary maps [`Blame::Input`] to exit status 1 and
//! [`Blame::Internal`] to 2, through [`crate::pipeline::blame_of`] on each cause of an
//! error chain.
//!
//! ```
//! use frameless_distiller::error::{Blame, Blamed};
//! use frameless_distiller::quantize::parse_precision;
//! assert_eq!(parse_precision("int4").unwrap_err().blame(), Blame::Input);
//! ```

/// Who is to blame for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The user's input: a file, a path, a setting or a dataset (exit status 1).
    Input,
    /// The program or the machine (exit status 2).
    Internal,
}

/// An error that knows whether the user's input caused it.
pub trait Blamed: std::error::Error {
    /// Who is to blame.
    fn blame(&self) -> Blame;
}

/// I/O errors name a path the user gave (a file to read, or an output to create).
impl Blamed for std::io::Error {
    fn blame(&self) -> Blame {
        Blame::Input
    }
}

/// Tensor failures are internal.
impl Blamed for candle_core::Error {
    fn blame(&self) -> Blame {
        Blame::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{blame_of, PipelineError};
    use crate::teacher::TeacherError;

    #[test]
    fn wrapped_errors_take_the_blame_of_what_they_wrap() {
        let input = PipelineError::Teacher(TeacherError::EmptySplit);
        assert_eq!(input.blame(), Blame::Input);
        let internal =
            PipelineError::Teacher(TeacherError::Candle(candle_core::Error::Msg("x".into())));
        assert_eq!(internal.blame(), Blame::Internal);
        assert_eq!(blame_of(&internal), Some(Blame::Internal));
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "out");
        assert_eq!(blame_of(&io), Some(Blame::Input));
        assert_eq!(blame_of(&std::fmt::Error), None);
    }
}
