//! Proto comments turned into OpenAPI descriptions: the leading (else trailing) comment of every
//! element, indentation stripped, and the joining of two description texts.

use std::collections::HashMap;

use prost_reflect::DescriptorPool;

/// Leading (else trailing) comments of every element, by file and source path.
pub(super) struct Comments {
    by_location: HashMap<(String, Vec<i32>), String>,
}

impl Comments {
    pub(super) fn new(pool: &DescriptorPool) -> Self {
        let mut by_location = HashMap::new();
        for file in pool.files() {
            let proto = file.file_descriptor_proto();
            let Some(info) = &proto.source_code_info else {
                continue;
            };
            for location in &info.location {
                let text = location
                    .leading_comments
                    .as_deref()
                    .or(location.trailing_comments.as_deref())
                    .map(clean_comment)
                    .filter(|t| !t.is_empty());
                if let Some(text) = text {
                    by_location.insert((file.name().to_owned(), location.path.clone()), text);
                }
            }
        }
        Self { by_location }
    }

    pub(super) fn get(&self, file: &str, path: &[i32]) -> Option<String> {
        self.by_location
            .get(&(file.to_owned(), path.to_vec()))
            .cloned()
    }
}

/// Strips the common indentation and surrounding blank lines of a proto comment.
fn clean_comment(raw: &str) -> String {
    let lines: Vec<&str> = raw.lines().collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let text: Vec<&str> = lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect();
    text.join("\n").trim().to_owned()
}

/// `first`, a blank line, then `second`; either alone when the other is empty.
pub(super) fn join_text(first: &str, second: &str) -> String {
    if first.is_empty() {
        second.to_owned()
    } else {
        format!("{first}\n\n{second}")
    }
}
