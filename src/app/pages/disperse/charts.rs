//! Below the map: the portions' sizes, the quality figures, the elbow chart and each portion's
//! keywords and representative rows.

use super::map::cut;
use super::map_data::MapData;
use eframe::egui::{self, RichText};
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints, Points};

/// Draws the charts and the portions in words.
pub fn charts_ui(map: &MapData, ui: &mut egui::Ui) {
    let c = &map.clusters;
    let q = &c.quality;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Quality").strong());
        ui.label(format!("method {} · K = {} · encoder {} on the {}", c.method, c.k, c.encoder, c.field));
        ui.label(format!("· inertia {:.1}", q.inertia));
        match q.silhouette {
            Some(s) => ui.label(format!("· silhouette {s:.3} (on {} rows; 1 = well apart, 0 = overlapping)", q.silhouette_rows)),
            None => ui.label("· silhouette not computed"),
        };
    });
    let width = ui.available_width();
    let chart_width = if c.elbow.is_some() { (width - 24.0) / 3.0 } else { (width - 12.0) / 2.0 };
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(chart_width);
            ui.label(RichText::new("Rows per portion").strong());
            let bars: Vec<Bar> = c
                .portions
                .iter()
                .map(|p| Bar::new(p.id as f64, p.size as f64).width(0.7).fill(map.colors[p.id]).name(format!("portion {}", p.id)))
                .collect();
            Plot::new("portion-sizes")
                .height(200.0)
                .width(chart_width)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .x_axis_label("portion")
                .y_axis_label("rows")
                .show(ui, |plot| plot.bar_chart(BarChart::new("rows", bars)));
        });
        if let Some(elbow) = &c.elbow {
            let inertia: PlotPoints = elbow.iter().map(|r| [r.k as f64, r.inertia]).collect();
            let silhouette: PlotPoints = elbow.iter().filter_map(|r| r.silhouette.map(|s| [r.k as f64, s])).collect();
            for (id, title, points, axis) in [("elbow-inertia", "Inertia against K", inertia, "inertia"), ("elbow-silhouette", "Silhouette against K", silhouette, "silhouette")] {
                ui.vertical(|ui| {
                    ui.set_width(chart_width);
                    ui.label(RichText::new(title).strong());
                    let marks: Vec<[f64; 2]> = points.points().iter().map(|p| [p.x, p.y]).collect();
                    Plot::new(id)
                        .height(200.0)
                        .width(chart_width)
                        .allow_drag(false)
                        .allow_zoom(false)
                        .allow_scroll(false)
                        .legend(Legend::default())
                        .x_axis_label("K")
                        .y_axis_label(axis)
                        .show(ui, |plot| {
                            plot.line(Line::new(axis, points));
                            plot.points(Points::new(format!("K = {}", c.k), marks.into_iter().filter(|p| p[0] as usize == c.k).collect::<Vec<_>>()).radius(5.0));
                        });
                });
            }
        } else {
            ui.vertical(|ui| {
                ui.set_width(chart_width);
                ui.label(RichText::new("Choosing K").strong());
                ui.label(
                    RichText::new("Tick Elbow and run again to see inertia and silhouette for K = 2..8: a bend in the inertia and a high silhouette suggest a K. The paper found K = 4 best on its data.")
                        .weak(),
                );
            });
        }
    });
    ui.add_space(8.0);
    ui.label(RichText::new("The portions in words").strong());
    for p in &c.portions {
        let name = p.label.clone().unwrap_or_else(|| format!("Portion {}", p.id));
        egui::CollapsingHeader::new(RichText::new(format!("{name} — {} rows", p.size)).color(map.colors[p.id]))
            .id_salt(("portion", p.id))
            .show(ui, |ui| {
                if !p.keywords.is_empty() {
                    let words: Vec<String> = p.keywords.iter().map(|k| k.word.clone()).collect();
                    ui.label(format!("Keywords: {}", words.join(", ")));
                }
                for r in &p.representatives {
                    ui.label(RichText::new(format!("line {}: {}", r.line, cut(&r.text, 160))).small());
                }
            });
    }
}
