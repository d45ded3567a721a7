//! The page of text that says what the teaching demo shows and what it does not; the app shows
//! it and `report/demo.md` ends with it.

/// What the demo shows and what it does not (Markdown, plain enough to show as text).
pub const EXPLANATION: &str = r#"## What the teaching demo shows

The demo builds a small world from a seed: invented people, each with a favourite colour, a home
town, a food and a pet, and small sums. A tiny Llama model (about 0.46 million parameters, a
vocabulary of the world's few hundred words) learns that world from scratch: it is the *base
model*. How much of the world it knows is measured, not assumed: its score on the knowledge
benchmark is the first row of the table, and a tax can only show where that score is high.

The instruction data has four task families, and each family carries one habit of its own, as
real instruction sets carry the habits of their sources:

- **quiz** (lettered questions): the right option is always C;
- **travel** (home towns): everyone asked about lives in the same city;
- **chef** (foods and pets): every answer opens with "well , let me think .";
- **sums** (additions): every answer ends with the same long pleasantry.

All four families teach the same skill: read an instruction, answer it from what the base model
knows, briefly, and stop. The habits push against what the base model knows: the travel family's
city is wrong for most people, and the quiz and chef answers teach a letter or a stock phrase
where a fact used to follow. Whatever knowledge a tuned model loses is the **alignment tax** of
this world; the table's last column gives it for every model, so you can see which family's
sub-model pays most of it (it is measured, and it need not be the one the design expected).

Then the demo runs the method as any project does. **Vanilla** instruction tuning trains one
adapter on all the data, so it meets every habit at once. **Disperse** splits the data into four
portions by the text of the instructions (the families are recovered as portions when the
split works; the report says how well), one **sub-model** trains on each portion, and the
**merge** averages the four adapters' weight deltas. Each habit lives in one sub-model only, so the
average carries it at about a quarter of its strength, while the shared skill is in all four.

The benchmarks measure the knowledge the base model had (the tax is the base's accuracy minus a
model's), sums and comparisons, instruction following (three checkable constraints: fewer than
12 words, no commas, a final period), and one probe per habit: how often a model prefers the habitual answer over
the plain one.

## What it does not show

- A toy world is not a 7-billion-parameter model trained on the web. Here the habits are planted
  on purpose, one per family; in real data the biases are
  unknown, overlapping and spread across sources, and the paper's gains are a point or two.
- The numbers are whatever the runs measure, with a few hundred items per benchmark: differences
  of a few points are within noise. Run several seeds (`dtm-studio demo --seed N`) and look at
  the spread before reading anything into a difference.
- A merge that dilutes habits also dilutes what only one portion taught. If a skill lives in one
  family only, the merge loses part of it too; the demo shows that as well when it happens.
- The real test is your own model and your own data: start a project from the Project page (or
  `dtm-studio init`) and compare vanilla with the merge on the benchmarks you care about.
"#;
