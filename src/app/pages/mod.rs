//! The pages of the window, one per step of the method, in the order a user walks through them.

pub mod compare;
pub mod data;
pub mod disperse;
pub mod merge;
pub mod model;
pub mod playground;
pub mod project;
pub mod project_demo;
pub mod train;

use std::fmt;
use std::str::FromStr;

/// A step of the method, shown as a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub enum Page {
    /// Open or create a project.
    #[default]
    Project,
    /// The instruction data.
    Data,
    /// The base model.
    BaseModel,
    /// Embeddings and the split into portions.
    Disperse,
    /// Training the vanilla model and the sub-models.
    Train,
    /// Merging the sub-models.
    Merge,
    /// Benchmark scores side by side.
    Compare,
    /// Prompting the models.
    Playground,
}

impl Page {
    /// Every page, in sidebar order.
    pub const ALL: [Page; 8] =
        [Page::Project, Page::Data, Page::BaseModel, Page::Disperse, Page::Train, Page::Merge, Page::Compare, Page::Playground];

    /// The page's title.
    pub fn title(self) -> &'static str {
        match self {
            Page::Project => "Project",
            Page::Data => "Data",
            Page::BaseModel => "Base model",
            Page::Disperse => "Disperse",
            Page::Train => "Train",
            Page::Merge => "Merge",
            Page::Compare => "Compare",
            Page::Playground => "Playground",
        }
    }

    /// The pipeline stages whose states make the page's badge (`*` wildcards).
    pub fn stages(self) -> &'static [&'static str] {
        match self {
            Page::Project | Page::BaseModel | Page::Playground => &[],
            Page::Data => &["data"],
            Page::Disperse => &["embed", "cluster"],
            Page::Train => &["train:*"],
            Page::Merge => &["merge:*"],
            Page::Compare => &["eval:*", "report"],
        }
    }
}

impl fmt::Display for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

impl FromStr for Page {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted: String = s.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
        Page::ALL
            .into_iter()
            .find(|p| p.title().replace(' ', "").to_lowercase() == wanted || (wanted == "model" && *p == Page::BaseModel))
            .ok_or_else(|| {
                let names: Vec<String> = Page::ALL.iter().map(|p| p.title().replace(' ', "-").to_lowercase()).collect();
                format!("unknown page '{s}': use one of {}", names.join(", "))
            })
    }
}

/// What a page may use and ask for while it draws.
pub struct PageCtx<'a> {
    /// The open project.
    pub workspace: &'a mut super::workspace::Workspace,
    /// The log and running stages; jobs attach here.
    pub activity: &'a mut super::activity::Activity,
    /// The remembered settings.
    pub settings: &'a mut super::settings::Settings,
    /// Devices found, CPU first.
    pub devices: &'a [crate::engine::device::DeviceInfo],
    /// The device work runs on (the project's, else the window's).
    pub device: crate::engine::device::DeviceRequest,
    /// Requests for the window, handled after the page is drawn.
    pub requests: &'a mut Vec<Request>,
}

/// What a page asks the window to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Show another page.
    GoTo(Page),
    /// Open a project, data file or model.
    Open(super::open::OpenTarget),
}

/// Says that this page needs an earlier step, with a link to it.
pub fn needs(ui: &mut eframe::egui::Ui, cx: &mut PageCtx<'_>, page: Page, what: &str) {
    ui.add_space(12.0);
    ui.horizontal(|ui| {
        ui.label(format!("This step needs {what} first:"));
        if ui.link(format!("go to {}", page.title())).clicked() {
            cx.requests.push(Request::GoTo(page));
        }
    });
}
