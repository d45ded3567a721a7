//! Which text of an instruction example is embedded: the instruction (with its input), the
//! response, or both.

use std::fmt;
use std::str::FromStr;

/// The text field to embed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextField {
    /// The instruction, followed by its input when there is one.
    #[default]
    Instruction,
    /// The response.
    Response,
    /// Instruction (+ input), a blank line, then the response.
    Both,
}

impl TextField {
    /// The name used on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instruction => "instruction",
            Self::Response => "response",
            Self::Both => "both",
        }
    }

    /// The text of this field, given an example's instruction (+ input) and response.
    pub fn select(self, instruction: &str, response: &str) -> String {
        match self {
            Self::Instruction => instruction.to_string(),
            Self::Response => response.to_string(),
            Self::Both => format!("{instruction}\n\n{response}"),
        }
    }
}

impl FromStr for TextField {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "instruction" | "prompt" => Ok(Self::Instruction),
            "response" | "output" => Ok(Self::Response),
            "both" => Ok(Self::Both),
            _ => Err(format!("unknown text field '{s}': use instruction, response or both")),
        }
    }
}

impl fmt::Display for TextField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_print_and_select() {
        for f in [TextField::Instruction, TextField::Response, TextField::Both] {
            assert_eq!(f.as_str().parse::<TextField>().unwrap(), f);
        }
        assert!("title".parse::<TextField>().unwrap_err().contains("instruction, response or both"));
        assert_eq!(TextField::Both.select("Q", "A"), "Q\n\nA");
        assert_eq!(TextField::Response.select("Q", "A"), "A");
    }
}
