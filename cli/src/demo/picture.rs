//! The demo's picture of the room (SVG, drawn with plotters): one row per participant over
//! time, showing when it was in the room, its level (what it sent, dBFS per 100 ms), when
//! the room heard it talking (the room's VAD events) and when it was the dominant speaker.

use plotters::prelude::*;

/// What the picture shows for one participant, times in seconds.
pub struct Row {
    /// Its name.
    pub name: String,
    /// Its codec, shown beside the name.
    pub codec: String,
    /// When it was in the room.
    pub present: (f64, f64),
    /// Level of what it sent per 100 ms, dBFS (`None` where it sent nothing).
    pub level: Vec<Option<f32>>,
    /// When the room said it was talking.
    pub talking: Vec<(f64, f64)>,
    /// When the room named it the dominant speaker.
    pub dominant: Vec<(f64, f64)>,
}

/// The lowest level drawn, dBFS (the bottom of a row).
const FLOOR_DB: f32 = -60.0;

/// Draws `rows` over `seconds` as an SVG document.
pub fn svg(rows: &[Row], seconds: f64, title: &str) -> Result<String, String> {
    let mut out = String::new();
    let height = 100 + 46 * rows.len() as u32;
    {
        let root = SVGBackend::with_string(&mut out, (1100, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = rows.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(120)
            .build_cartesian_2d(0.0..seconds, 0.0..n)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows.len() * 2 + 1)
            .y_label_formatter(&|y| {
                // Labels at each row's middle: row r (from the top) spans [n-1-r, n-r).
                let r = n - y - 0.5;
                if (r - r.round()).abs() < 1e-6 && r >= 0.0 && (r as usize) < rows.len() {
                    let row = &rows[r as usize];
                    format!("{} ({})", row.name, row.codec)
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(|e| e.to_string())?;
        let grey = RGBColor(225, 225, 225);
        let green = RGBColor(170, 220, 170);
        let orange = RGBColor(240, 150, 30);
        for (r, row) in rows.iter().enumerate() {
            let y0 = n - 1.0 - r as f64;
            let rect = |a: f64, b: f64, lo: f64, hi: f64, c: RGBColor| {
                Rectangle::new([(a, y0 + lo), (b, y0 + hi)], c.filled())
            };
            // Absent: before joining and after leaving.
            let absent = [(0.0, row.present.0), (row.present.1, seconds)];
            chart
                .draw_series(absent.into_iter().filter(|(a, b)| b > a).map(|(a, b)| rect(a, b, 0.02, 0.98, grey)))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(row.talking.iter().map(|&(a, b)| rect(a, b, 0.08, 0.92, green)))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(row.dominant.iter().map(|&(a, b)| rect(a, b, 0.02, 0.14, orange)))
                .map_err(|e| e.to_string())?;
            // The level, one polyline per stretch of sending.
            let mut stretch: Vec<(f64, f64)> = Vec::new();
            let y_of = |db: f32| y0 + 0.15 + 0.8 * f64::from(((db - FLOOR_DB) / -FLOOR_DB).clamp(0.0, 1.0));
            for (k, l) in row.level.iter().chain(std::iter::once(&None)).enumerate() {
                match l {
                    Some(db) => stretch.push((k as f64 * 0.1, y_of(*db))),
                    None if !stretch.is_empty() => {
                        chart
                            .draw_series(LineSeries::new(std::mem::take(&mut stretch), BLUE.stroke_width(1)))
                            .map_err(|e| e.to_string())?;
                    }
                    None => {}
                }
            }
        }
        root.draw(&Text::new(
            "x: seconds · grey: not in the room · blue: level sent (−60…0 dBFS) · green: talking (room VAD) · orange: dominant speaker",
            (130, height as i32 - 16),
            ("sans-serif", 12),
        ))
        .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{svg, Row};

    #[test]
    fn draws_every_row_with_its_spans() {
        let rows = vec![
            Row {
                name: "p0".into(),
                codec: "PCMU".into(),
                present: (0.0, 2.0),
                level: vec![Some(-20.0), Some(-25.0), None, Some(-30.0)],
                talking: vec![(0.0, 0.2)],
                dominant: vec![(0.1, 0.3)],
            },
            Row {
                name: "p1".into(),
                codec: "G722".into(),
                present: (0.5, 1.5),
                level: vec![],
                talking: vec![],
                dominant: vec![],
            },
        ];
        let s = svg(&rows, 2.0, "room").unwrap();
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains("p0 (PCMU)") && s.contains("p1 (G722)"), "{s}");
        // Two level stretches for p0 (the gap splits them), none for p1.
        assert_eq!(s.matches("stroke=\"#0000FF\"").count(), 2, "{s}");
        // p1's two absent spans (p0 was there throughout), p0's talk span and dominant span.
        assert_eq!(s.matches("fill=\"#E1E1E1\"").count(), 2, "{s}");
        assert_eq!(s.matches("fill=\"#AADCAA\"").count(), 1, "{s}");
        assert_eq!(s.matches("fill=\"#F0961E\"").count(), 1, "{s}");
    }
}
