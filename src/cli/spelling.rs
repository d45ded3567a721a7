//! The command line's spelling of settings in engine messages. The engine names a setting the
//! way `dtm.toml` does (`overwrite`, `skip_bad_rows`, the method `random`); the CLI shows the
//! flag that sets it (`--overwrite`, `--skip-bad-rows`, `--method random`).

/// Engine wording -> command-line wording, longest phrases first.
const FLAGS: &[(&str, &str)] = &[
    ("the method `field`", "`--method field`"),
    ("the method `random`", "`--method random`"),
    ("the method `balanced`", "`--method balanced`"),
    ("the `builtin` encoder", "`--encoder builtin`"),
    ("the `fisher` merge method", "`merge --method fisher`"),
    ("setting `by`", "`--by COLUMN`"),
    ("`skip_bad_rows`", "`--skip-bad-rows`"),
    ("`columns`", "`--columns`"),
    ("`format`", "`--format`"),
    ("`overwrite`", "`--overwrite`"),
    ("`density`", "`--density`"),
    ("`lambda`", "`--lambda`"),
    ("`rank`", "`--rank`"),
    ("`weights`", "`--weights`"),
    ("`limit`", "`--limit`"),
    ("`samples`", "`--samples`"),
];

/// `message` with every setting the engine names replaced by its flag.
pub fn cli_spelling(message: &str) -> String {
    FLAGS.iter().fold(message.to_string(), |m, (engine, cli)| m.replace(engine, cli))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_become_flags() {
        assert_eq!(
            cli_spelling("out: already exists; choose another output folder, or allow `overwrite`"),
            "out: already exists; choose another output folder, or allow `--overwrite`"
        );
        assert_eq!(cli_spelling("use the method `random` or the method `balanced`"), "use `--method random` or `--method balanced`");
        assert_eq!(cli_spelling("`density` applies to ties"), "`--density` applies to ties");
    }
}
