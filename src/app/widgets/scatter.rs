//! A zoomable scatter of many 2-D points coloured by group, for the cluster map. The points are
//! drawn as one mesh that is rebuilt only when the view changes (one quad per occupied pixel
//! cell, so 200,000 points cost no more than the pixels they cover); the point under the pointer
//! comes from a [`SpatialGrid`], not a scan.

use super::spatial::SpatialGrid;
use eframe::egui::{self, Color32, Mesh, Pos2, Rect, Sense, Shape, Stroke, Vec2};
use std::sync::Arc;

/// Pointer reach of the hover, in screen points.
const HOVER_REACH: f32 = 8.0;

/// What the view shows: its centre in data units and its zoom over the fitted view.
#[derive(Debug, Clone, Copy, PartialEq)]
struct View {
    center: [f32; 2],
    zoom: f32,
}

/// Everything a mesh depends on.
#[derive(Debug, Clone, PartialEq)]
struct MeshKey {
    rect: Rect,
    view: View,
    highlight: Option<u32>,
    colors: Vec<Color32>,
    grey: Color32,
    pixels_per_point: f32,
}

/// Points, their groups and the index over them; build it off the UI thread for big maps.
pub struct Scatter {
    points: Vec<[f32; 2]>,
    groups: Vec<u32>,
    grid: SpatialGrid,
    min: [f32; 2],
    max: [f32; 2],
    view: View,
    cache: Option<(MeshKey, Arc<Mesh>)>,
    /// Where it was last drawn.
    last_rect: Option<Rect>,
}

/// What happened on the scatter this frame.
pub struct ScatterResponse {
    /// The point under the pointer.
    pub hovered: Option<usize>,
    /// The point clicked.
    pub clicked: Option<usize>,
    /// Whether the mesh was rebuilt (the view changed).
    pub rebuilt: bool,
    /// The widget's response.
    pub response: egui::Response,
}

impl Scatter {
    /// Indexes `points` (one group number per point).
    pub fn new(points: Vec<[f32; 2]>, groups: Vec<u32>) -> Self {
        let grid = SpatialGrid::new(&points, 8);
        let (mut min, mut max) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for p in points.iter().filter(|p| p[0].is_finite() && p[1].is_finite()) {
            for a in 0..2 {
                min[a] = min[a].min(p[a]);
                max[a] = max[a].max(p[a]);
            }
        }
        if min[0] > max[0] {
            (min, max) = ([-1.0; 2], [1.0; 2]);
        }
        let center = [(min[0] + max[0]) / 2.0, (min[1] + max[1]) / 2.0];
        Self { points, groups, grid, min, max, view: View { center, zoom: 1.0 }, cache: None, last_rect: None }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Where point `i` was on the screen in the last frame, if it was in view.
    pub fn screen_pos(&self, i: usize) -> Option<Pos2> {
        let rect = self.last_rect?;
        let pos = self.to_screen(rect, self.scale(rect), *self.points.get(i)?);
        rect.contains(pos).then_some(pos)
    }

    /// Back to the whole map.
    pub fn reset_view(&mut self) {
        self.view = View { center: [(self.min[0] + self.max[0]) / 2.0, (self.min[1] + self.max[1]) / 2.0], zoom: 1.0 };
    }

    /// Whether the view is zoomed or moved.
    pub fn is_moved(&self) -> bool {
        let fitted = [(self.min[0] + self.max[0]) / 2.0, (self.min[1] + self.max[1]) / 2.0];
        self.view.zoom != 1.0 || self.view.center != fitted
    }

    /// Screen points per data unit at this view in `rect`.
    fn scale(&self, rect: Rect) -> f32 {
        let span = [(self.max[0] - self.min[0]).max(1e-6), (self.max[1] - self.min[1]).max(1e-6)];
        let fit = ((rect.width() - 24.0) / span[0]).min((rect.height() - 24.0) / span[1]).max(1e-6);
        fit * self.view.zoom
    }

    fn to_screen(&self, rect: Rect, scale: f32, p: [f32; 2]) -> Pos2 {
        rect.center() + Vec2::new((p[0] - self.view.center[0]) * scale, -(p[1] - self.view.center[1]) * scale)
    }

    fn to_data(&self, rect: Rect, scale: f32, pos: Pos2) -> [f32; 2] {
        let d = pos - rect.center();
        [self.view.center[0] + d.x / scale, self.view.center[1] - d.y / scale]
    }

    /// The size of a dot, in points: bigger when there are few.
    fn dot_size(&self) -> f32 {
        (7.0 - (self.points.len().max(1) as f32).log10()).clamp(2.0, 5.0)
    }

    /// Builds the mesh: the greyed groups first, then the others on top; a dot is skipped when
    /// its pixel cell already has one drawn above it.
    fn build_mesh(&self, key: &MeshKey, scale: f32) -> Mesh {
        let rect = key.rect;
        let size = self.dot_size();
        let half = size / 2.0;
        // One dot per cell of the dot's own size: beyond that, more dots add vertices, not pixels.
        let cell = size.max(1.0 / key.pixels_per_point);
        let cols = (rect.width() / cell).ceil() as usize + 1;
        let rows = (rect.height() / cell).ceil() as usize + 1;
        let mut taken = vec![false; cols * rows];
        let mut dots: Vec<(Pos2, Color32)> = Vec::new();
        let mut layer = |dots: &mut Vec<(Pos2, Color32)>, on_top: bool| {
            // Walk backwards so the dot drawn last (on top) claims its cell first.
            for i in (0..self.points.len()).rev() {
                let group = self.groups.get(i).copied().unwrap_or(0);
                let lit = key.highlight.is_none_or(|h| h == group);
                if lit != on_top {
                    continue;
                }
                let pos = self.to_screen(rect, scale, self.points[i]);
                if !rect.shrink(half).contains(pos) {
                    continue;
                }
                let (cx, cy) = (((pos.x - rect.min.x) / cell) as usize, ((pos.y - rect.min.y) / cell) as usize);
                let slot = &mut taken[cy * cols + cx];
                if *slot {
                    continue;
                }
                *slot = true;
                let color = if lit { key.colors.get(group as usize).copied().unwrap_or(Color32::GRAY) } else { key.grey };
                dots.push((pos, color));
            }
        };
        let mut top = Vec::new();
        layer(&mut top, true);
        layer(&mut dots, false);
        dots.reverse();
        top.reverse();
        dots.extend(top);
        let mut mesh = Mesh::default();
        mesh.reserve_triangles(dots.len() * 2);
        mesh.reserve_vertices(dots.len() * 4);
        for (pos, color) in dots {
            mesh.add_colored_rect(Rect::from_center_size(pos, Vec2::splat(size)), color);
        }
        mesh
    }

    /// Draws the scatter in `size`; drag pans, the wheel zooms about the pointer, a double click
    /// fits the whole map. `highlight` draws one group in colour and greys the rest;
    /// `marked` points get a ring (the pinned row).
    pub fn show(&mut self, ui: &mut egui::Ui, size: Vec2, colors: &[Color32], highlight: Option<u32>, marked: &[usize]) -> ScatterResponse {
        let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
        let mut scale = self.scale(rect);
        if response.dragged() {
            let d = response.drag_delta();
            self.view.center[0] -= d.x / scale;
            self.view.center[1] += d.y / scale;
        }
        if response.double_clicked() {
            self.reset_view();
            scale = self.scale(rect);
        }
        if let (true, Some(pointer)) = (response.hovered(), response.hover_pos()) {
            let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
            let factor = pinch * (scroll * 0.003).exp();
            if factor != 1.0 {
                // The wheel is the map's here, not the page's.
                ui.input_mut(|i| i.smooth_scroll_delta = Vec2::ZERO);
                let under = self.to_data(rect, scale, pointer);
                self.view.zoom = (self.view.zoom * factor).clamp(0.5, 500.0);
                scale = self.scale(rect);
                let now = self.to_data(rect, scale, pointer);
                self.view.center[0] += under[0] - now[0];
                self.view.center[1] += under[1] - now[1];
            }
        }
        scale = self.scale(rect);
        self.last_rect = Some(rect);
        let painter = ui.painter_at(rect);
        let visuals = ui.visuals();
        painter.rect_filled(rect, 4.0, visuals.extreme_bg_color);
        let grey = if visuals.dark_mode { Color32::from_gray(70) } else { Color32::from_gray(205) };
        let key =
            MeshKey { rect, view: self.view, highlight, colors: colors.to_vec(), grey, pixels_per_point: ui.ctx().pixels_per_point() };
        let rebuilt = self.cache.as_ref().is_none_or(|(k, _)| *k != key);
        if rebuilt {
            let mesh = Arc::new(self.build_mesh(&key, scale));
            self.cache = Some((key, mesh));
        }
        if let Some((_, mesh)) = &self.cache {
            painter.add(Shape::Mesh(Arc::clone(mesh)));
        }
        let ring = Stroke::new(2.0, visuals.strong_text_color());
        for &i in marked {
            if let Some(p) = self.points.get(i) {
                painter.circle_stroke(self.to_screen(rect, scale, *p), self.dot_size() + 4.0, ring);
            }
        }
        let hovered = response.hover_pos().and_then(|pos| {
            let at = self.to_data(rect, scale, pos);
            let groups = &self.groups;
            self.grid.nearest(&self.points, at, HOVER_REACH / scale, |i| highlight.is_none_or(|h| groups.get(i) == Some(&h)))
        });
        if let Some(i) = hovered {
            painter.circle_stroke(
                self.to_screen(rect, scale, self.points[i]),
                self.dot_size() + 3.0,
                Stroke::new(1.5, visuals.text_color()),
            );
        }
        let clicked = if response.clicked() { hovered } else { None };
        ScatterResponse { hovered, clicked, rebuilt, response }
    }
}
