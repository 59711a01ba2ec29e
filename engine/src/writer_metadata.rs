//! Host-side reading of [`Metadata`] (feature `std`; the firmware reports
//! class indices).

use crate::Metadata;

impl<'a> Metadata<'a> {
    /// The name of class `class`, if class names were exported.
    ///
    /// ```
    /// let m = frameless_engine::Metadata { dataset: "cora", class_names: "a\nb", test_accuracy: None };
    /// assert_eq!(m.class_name(1), Some("b"));
    /// assert_eq!(m.class_name(2), None);
    /// ```
    pub fn class_name(&self, class: u32) -> Option<&'a str> {
        let names = Some(self.class_names).filter(|n| !n.is_empty())?;
        names.split('\n').nth(usize::try_from(class).ok()?)
    }
}
