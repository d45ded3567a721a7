//! `report.md`: title, settings, the comparison table, the alignment tax of each model, each
//! merge against vanilla (stated plainly when it does not beat it), the training runs, the
//! portions, and the charts (or why one was not drawn).

use super::summary::{headline_rows, is_percent, num, pct, portion_sizes, pp, role, run_summary, versus_vanilla, Role};
use super::{ChartKind, ReportInput, SkippedChart};
use crate::engine::eval::comparison::{to_markdown, Row};
use std::fmt::Write;

/// Escapes a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The image line of a drawn chart, or the sentence saying why it was not drawn.
fn chart(kind: ChartKind, skipped: &[SkippedChart]) -> String {
    match skipped.iter().find(|s| s.kind == kind) {
        Some(s) => format!("_{} was not drawn: {}._\n", kind.file_name(), s.reason),
        None => format!("![{}]({})\n", kind.alt_text(), kind.file_name()),
    }
}

/// The whole `report.md`.
pub fn report_markdown(input: &ReportInput, rows: &[Row], skipped: &[SkippedChart]) -> String {
    let mut md = format!("# {}\n\n", input.title.trim());
    settings(&mut md, input);
    scores(&mut md, input, rows, skipped);
    taxes(&mut md, input, rows, skipped);
    merges(&mut md, input, rows);
    training(&mut md, input, skipped);
    portions(&mut md, input, skipped);
    md.push_str(
        "## Files\n\n- `results.csv`: one line per benchmark, metric and model, raw fractions (as `dtm-studio compare --format csv`).\n",
    );
    for kind in ChartKind::ALL {
        if !skipped.iter().any(|s| s.kind == kind) {
            let _ = writeln!(md, "- `{}`: {}.", kind.file_name(), kind.alt_text());
        }
    }
    md
}

fn settings(md: &mut String, input: &ReportInput) {
    md.push_str("## Settings\n\n");
    if input.settings.is_empty() {
        md.push_str("No settings were recorded.\n\n");
        return;
    }
    md.push_str("| setting | value |\n|---|---|\n");
    for (k, v) in &input.settings {
        let _ = writeln!(md, "| {} | {} |", cell(k), cell(v));
    }
    md.push('\n');
}

fn scores(md: &mut String, input: &ReportInput, rows: &[Row], skipped: &[SkippedChart]) {
    md.push_str("## Scores\n\n");
    let _ = writeln!(
        md,
        "Every metric of every model in percent, ± one standard error. `tax X` is the alignment tax of X: the base (`{}`) minus X, in percentage points (positive: X scores lower than the base), ± the standard error of the per-item differences (marked `unpaired` where the two models did not score the same items). These are the numbers of `dtm-studio compare`.\n",
        input.models[0].label
    );
    md.push_str(&to_markdown(&input.models, 0, rows));
    md.push('\n');
    md.push_str(&chart(ChartKind::Scores, skipped));
    md.push('\n');
}

fn taxes(md: &mut String, input: &ReportInput, rows: &[Row], skipped: &[SkippedChart]) {
    let _ = writeln!(md, "## Alignment tax against `{}`\n", input.models[0].label);
    let heads: Vec<&Row> = headline_rows(rows).into_iter().filter(|r| is_percent(r)).collect();
    if input.models.len() < 2 || heads.is_empty() {
        md.push_str("There is no other model (or no benchmark scored in percent) to compare with the base.\n\n");
        md.push_str(&chart(ChartKind::Tax, skipped));
        md.push('\n');
        return;
    }
    md.push_str(
        "Headline metric of each benchmark; base − model in percentage points ± one standard error (positive: the model lost score).\n\n",
    );
    let mut head = vec!["model".to_string(), "role".into()];
    head.extend(heads.iter().map(|r| cell(&format!("{} ({})", r.benchmark, r.metric))));
    head.push("mean tax (pp)".into());
    let _ = writeln!(md, "| {} |\n|{}|", head.join(" | "), vec!["---"; head.len()].join("|"));
    for (i, m) in input.models.iter().enumerate().skip(1) {
        let mut cells = vec![cell(&m.label), format!("{:?}", role(i, &m.label)).to_lowercase()];
        let mut sum = Vec::new();
        for r in &heads {
            cells.push(match r.taxes[i] {
                Some(t) => {
                    sum.push(t.tax);
                    format!("{} ± {}{}", pp(t.tax), pct(t.stderr), if t.paired { "" } else { " (unpaired)" })
                }
                None => "–".into(),
            });
        }
        cells.push(if sum.is_empty() { "–".into() } else { pp(sum.iter().sum::<f64>() / sum.len() as f64) });
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md.push('\n');
    md.push_str(&chart(ChartKind::Tax, skipped));
    md.push('\n');
}

fn merges(md: &mut String, input: &ReportInput, rows: &[Row]) {
    let merges: Vec<_> = input.models.iter().enumerate().filter(|(i, m)| role(*i, &m.label) == Role::Merge).map(|(_, m)| m).collect();
    if merges.is_empty() {
        return;
    }
    md.push_str("### Merges against vanilla\n\n");
    let Some(vanilla) = input.models.iter().enumerate().find(|(i, m)| role(*i, &m.label) == Role::Vanilla).map(|(_, m)| m) else {
        md.push_str("No model is labelled `vanilla`, so the merges are not compared with vanilla SFT.\n\n");
        return;
    };
    let heads = headline_rows(rows);
    for m in merges {
        let vs = versus_vanilla(vanilla, m, &heads);
        if vs.is_empty() {
            let _ = writeln!(md, "- `{}` and `vanilla` share no benchmark scored in percent.\n", m.label);
            continue;
        }
        let wins = vs.iter().filter(|v| v.diff > 0.0).count();
        let clear = vs.iter().filter(|v| v.diff.abs() > 2.0 * v.stderr).count();
        let mean = vs.iter().map(|v| v.diff).sum::<f64>() / vs.len() as f64;
        let verdict = if mean > 0.0 && wins == vs.len() {
            format!("`{}` beats vanilla on all {} benchmarks", m.label, vs.len())
        } else if mean > 0.0 {
            format!("`{}` beats vanilla on average but not everywhere: higher on {} of {} benchmarks", m.label, wins, vs.len())
        } else {
            format!("**`{}` does NOT beat vanilla**: higher on {} of {} benchmarks", m.label, wins, vs.len())
        };
        let _ = writeln!(
            md,
            "{verdict}; mean difference {} percentage points; differences larger than two standard errors: {} of {}.\n",
            pp(mean),
            clear,
            vs.len()
        );
        md.push_str("| benchmark | merge − vanilla (pp) | beats vanilla |\n|---|---|---|\n");
        for v in &vs {
            let beats = if v.diff > 0.0 { "yes" } else { "**no**" };
            let paired = if v.paired { "" } else { " (unpaired)" };
            let _ = writeln!(md, "| {} ({}) | {} ± {}{paired} | {beats} |", cell(&v.benchmark), cell(&v.metric), pp(v.diff), pct(v.stderr));
        }
        md.push('\n');
    }
}

fn training(md: &mut String, input: &ReportInput, skipped: &[SkippedChart]) {
    md.push_str("## Training\n\n");
    if input.runs.is_empty() {
        md.push_str("No training runs were given.\n\n");
    } else {
        md.push_str("Losses in nats per response token. ΔL_train / ΔL_val is the loss-reduction ratio of the first and last stage (consecutive evaluations, or at most 10 even stages of a run evaluated more often): near 1 when training and validation loss fall together, large when the model fits the training data faster than it generalises (the paper sees about 1 early and about 20 late). A segment whose validation loss did not move has no ratio and is left out.\n\n");
        md.push_str("| run | status | steps | examples (train / val) | train loss first → last | val loss first → last | ΔL_train / ΔL_val first → last |\n|---|---|---|---|---|---|---|\n");
        for run in &input.runs {
            let s = run_summary(run);
            let pair = |p: Option<(f64, f64)>| p.map(|(a, b)| format!("{} → {}", num(a), num(b))).unwrap_or_else(|| "n/a".into());
            let _ = writeln!(
                md,
                "| {} | {} | {} / {} | {} / {} | {} | {} | {} |",
                cell(&s.run),
                s.status,
                s.steps,
                s.total_steps,
                s.examples.0,
                s.examples.1,
                pair(s.train),
                pair(s.val),
                pair(s.lrr)
            );
        }
        md.push('\n');
    }
    md.push_str(&chart(ChartKind::Loss, skipped));
    md.push('\n');
    md.push_str(&chart(ChartKind::Lrr, skipped));
    md.push('\n');
}

fn portions(md: &mut String, input: &ReportInput, skipped: &[SkippedChart]) {
    md.push_str("## Portions\n\n");
    let Some(c) = &input.clusters else {
        md.push_str("No clusters file was given.\n\n");
        md.push_str(&chart(ChartKind::Clusters, skipped));
        md.push('\n');
        return;
    };
    let _ = writeln!(
        md,
        "{} rows split into K = {} portions by `{}` (encoder `{}`, field `{}`, seed {}).\n",
        c.rows, c.k, c.method, c.encoder, c.field, c.seed
    );
    md.push_str("| portion | rows | share | keywords |\n|---|---|---|---|\n");
    let total = c.rows.max(1) as f64;
    for (p, n) in portion_sizes(c).into_iter().enumerate() {
        let portion = c.portions.iter().find(|q| q.id == p);
        let words = portion.map(|q| q.keywords.iter().take(8).map(|k| k.word.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default();
        let name = match portion.and_then(|q| q.label.as_deref()) {
            Some(l) => format!("{p} ({})", cell(l)),
            None => p.to_string(),
        };
        let _ =
            writeln!(md, "| {name} | {n} | {}% | {} |", pct(n as f64 / total), if words.is_empty() { "–".into() } else { cell(&words) });
    }
    md.push('\n');
    md.push_str(&chart(ChartKind::Clusters, skipped));
    md.push('\n');
}
