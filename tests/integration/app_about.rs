//! The About window opened from the top bar through AccessKit: version, commit and features as
//! the binary was built, the devices the window found, the licence and the paper's link; its
//! close button and Escape hide it again.

use super::app::{shows, wait_until, window};
use dtm_studio::app::frame::about::ABOUT_TITLE;
use dtm_studio::build_info;
use eframe::egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};

#[test]
fn about_window_shows_version_devices_licence_and_paper() {
    let mut h = window(None, None);
    h.run_steps(2);
    assert!(!shows(&h, ABOUT_TITLE), "closed at start");
    h.get_by_label("About").click();
    h.run_steps(2);
    assert!(h.state().about_open);
    assert!(shows(&h, ABOUT_TITLE));
    wait_until(&mut h, "the device list in the About window", 30, |h| shows(h, "CPU ("));

    let version = super::packaging::cargo_toml_version();
    assert_eq!(build_info::VERSION, version);
    for (key, value) in
        [("Version", version.as_str()), ("Commit", build_info::COMMIT), ("Features", build_info::FEATURES), ("Licence", "Apache-2.0")]
    {
        assert!(h.query_by_label(key).is_some(), "the row {key}");
        assert!(h.query_by_label(value).is_some(), "{key} reads {value}");
    }
    assert!(cfg!(feature = "gui") && build_info::FEATURES.contains("gui"));
    let link = h.get_by_label(build_info::PAPER_TITLE);
    assert_eq!(link.accesskit_node().role(), Role::Link);

    h.get_by_label("Close window").click_accesskit();
    h.run_steps(2);
    assert!(!h.state().about_open);
    assert!(!shows(&h, ABOUT_TITLE));

    // Escape closes it too.
    h.get_by_label("About").click();
    h.run_steps(2);
    assert!(shows(&h, ABOUT_TITLE));
    h.key_press(eframe::egui::Key::Escape);
    h.run_steps(2);
    assert!(!h.state().about_open, "Escape closes the About window");
}
