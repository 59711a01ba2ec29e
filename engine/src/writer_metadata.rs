//! Host-side reading of [`Metadata`] (feature `std`; the firmware reports
//! class indices).

use crate::Metadata;

impl<'a> Metadata<'a> {
    /// The name of class `class`, if class names were exported.
    ///
    /// ```
    /// let m = frameless_engine::Metadata { dataset: "cora", class_names: "a\nb", test_accuracy: None, recipe: "" };
    /// assert_eq!(m.class_name(1), Some("b"));
    /// assert_eq!(m.class_name(2), None);
    /// ```
    pub fn class_name(&self, class: u32) -> Option<&'a str> {
        let names = Some(self.class_names).filter(|n| !n.is_empty())?;
        names.split('\n').nth(usize::try_from(class).ok()?)
    }

    /// The recipe's `(key, value)` pairs in the order they were written (none for an
    /// empty recipe or a version-3 blob).
    ///
    /// ```
    /// let m = frameless_engine::Metadata { dataset: "", class_names: "", test_accuracy: None, recipe: "student=mlp\nlambda=1" };
    /// let pairs: Vec<_> = m.recipe_entries().collect();
    /// assert_eq!(pairs, [("student", "mlp"), ("lambda", "1")]);
    /// assert_eq!(m.recipe_value("lambda"), Some("1"));
    /// ```
    pub fn recipe_entries(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let recipe: &'a str = self.recipe;
        recipe.split('\n').filter_map(|line| line.split_once('='))
    }

    /// The value of recipe key `key`, if present.
    pub fn recipe_value(&self, key: &str) -> Option<&'a str> {
        self.recipe_entries()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}
