//! SQLite rows read by column name, one accessor per column type.
//!
//! Why not `SqlCursor::to_array::<Row>()`: it decodes each row through `serde_wasm_bindgen`,
//! a second decoder per row type beside serde_json's and that crate's own deserializer
//! (README "Size"). The runtime hands each row over as an object keyed by column name, the
//! same object `to_array` decodes, so reading it here by name accepts and refuses what the
//! derived decoder did: a missing or `NULL` column is `None` where the column may be empty
//! and an error where it may not, a value of the wrong type is an error. A row that does
//! not read is reported, never skipped.

use serde::de::value::{Error as ValueError, StringDeserializer};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{Error, Result, SqlStorage, SqlStorageValue};

/// One row, as the runtime hands it over.
pub struct Row(JsValue);

/// Every row `query` answers, in its order.
pub fn rows(sql: &SqlStorage, query: &str, args: Vec<SqlStorageValue>) -> Result<Vec<Row>> {
    sql.exec(query, args)?.map(|row| row.map(Row)).collect()
}

fn unreadable(column: &str, what: &str) -> Error {
    Error::RustError(format!("sql: column {column}: {what}"))
}

impl Row {
    /// The column's value; `None` when it is `NULL` or absent.
    fn value(&self, column: &str) -> Option<JsValue> {
        let v = js_sys::Reflect::get(&self.0, &JsValue::from_str(column)).ok()?;
        (!v.is_null() && !v.is_undefined()).then_some(v)
    }

    pub fn opt_num(&self, column: &str) -> Result<Option<f64>> {
        self.value(column).map(|v| v.as_f64().ok_or_else(|| unreadable(column, "not a number"))).transpose()
    }

    pub fn num(&self, column: &str) -> Result<f64> {
        self.opt_num(column)?.ok_or_else(|| unreadable(column, "missing"))
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.value(column).map(|v| v.as_string().ok_or_else(|| unreadable(column, "not text"))).transpose()
    }

    pub fn text(&self, column: &str) -> Result<String> {
        self.opt_text(column)?.ok_or_else(|| unreadable(column, "missing"))
    }

    /// A text column read as `T` (an id, an enum of names) by `T`'s own decoding of a string.
    pub fn parsed<T: DeserializeOwned>(&self, column: &str) -> Result<T> {
        let text = self.text(column)?;
        T::deserialize(StringDeserializer::<ValueError>::new(text)).map_err(|e| unreadable(column, &e.to_string()))
    }

    pub fn opt_parsed<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        match self.value(column) {
            Some(_) => self.parsed(column).map(Some),
            None => Ok(None),
        }
    }
}
