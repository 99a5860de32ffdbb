//! Charts of a simulation, drawn with plotters as SVG and PNG: the allocation burn-down of the
//! most constrained countries, compute granted by tier (stacked), demand refused by country, the
//! runs compared, and the license applications (granted on filing or after the approval lag,
//! denied, pending). Values are in H100-equivalents (the axis titles give the TPP of one).
//!
//! PNG text is rasterized with `ab_glyph` from DejaVu Sans embedded in the binary
//! (`assets/DejaVuSans.ttf`, Bitstream Vera licence), so no system font library is needed and
//! the PNGs are the same on every machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::batch::BatchError;
use crate::simulate::{CountryResult, SimResult};

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const SIZE: (u32, u32) = (1100, 650);

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid; if it were not, text would be missing, not wrong.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, FONT);
    });
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn h100e(tpp: u128, h: u64) -> f64 {
    tpp as f64 / h.max(1) as f64
}

fn grouped(v: f64) -> String {
    let n = v.round().abs() as u128;
    let s = aidf_core::explain::thousands(n);
    if v < 0.0 { format!("-{s}") } else { s }
}

/// The countries whose allocation is most used (share of cap at the end), most first.
fn most_constrained(c: &[CountryResult], n: usize) -> Vec<&CountryResult> {
    let mut v: Vec<(u128, &CountryResult)> = c
        .iter()
        .filter_map(|c| {
            let last = c.quarters.last()?;
            let cap = last.allocation_cap_tpp?;
            if last.allocation_used_tpp == 0 {
                return None;
            }
            // Per-mille of the cap used, then refusals, to order ties deterministically.
            let share = u128::from(last.allocation_used_tpp) * 1000 / u128::from(cap.max(1));
            let refused: u128 = c.quarters.iter().map(|q| q.refused_exhausted_tpp).sum();
            Some((share * 1_000_000_000_000 + refused.min(999_999_999_999), c))
        })
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.country.cmp(&b.1.country)));
    v.into_iter().take(n).map(|x| x.1).collect()
}

fn quarter_axis(res: &SimResult) -> impl Fn(&f64) -> String + '_ {
    move |x: &f64| {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        res.quarters.get(i as usize).cloned().unwrap_or_default()
    }
}

fn y_desc(res: &SimResult, what: &str) -> String {
    format!(
        "{what} (H100-equivalents; 1 H100e = {} TPP)",
        aidf_core::explain::thousands(u128::from(res.h100_tpp))
    )
}

/// The frame every per-quarter chart shares: caption, quarter axis, H100e axis with its unit.
fn quarterly_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    res: &SimResult,
    nq: usize,
    caption: String,
    ymax: f64,
    x_desc: &str,
    y_what: &str,
) -> Result<
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    Box<dyn std::error::Error>,
>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(95)
        .build_cartesian_2d(-0.5f64..(nq as f64 - 0.5), 0f64..ymax.max(1.0))?;
    chart
        .configure_mesh()
        .x_labels(nq)
        .x_label_formatter(&quarter_axis(res))
        .y_label_formatter(&|v| grouped(*v))
        .x_desc(x_desc)
        .y_desc(y_desc(res, y_what))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    Ok(chart)
}

/// The legend every chart draws: framed, on a light background, at `position`.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()?;
    Ok(())
}

fn burn_down<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, res: &SimResult) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let run = &res.runs[0];
    let picked = most_constrained(&run.countries, 6);
    let h = res.h100_tpp;
    let nq = res.quarters.len();
    let max = picked
        .iter()
        .flat_map(|c| &c.quarters)
        .filter_map(|q| q.allocation_cap_tpp)
        .max()
        .unwrap_or(1);
    let ymax = h100e(u128::from(max), h) * 1.08;
    let mut chart = quarterly_chart(
        &root,
        res,
        nq,
        format!("Country allocation remaining (burn-down) — {}", run.name),
        ymax,
        "Quarter (end)",
        "Allocation remaining",
    )?;
    if picked.is_empty() {
        root.draw(&Text::new(
            "no country allocation drawn under this regime",
            (300, 300),
            ("sans-serif", 20),
        ))?;
    }
    for (i, c) in picked.iter().enumerate() {
        let col = color(i);
        let pts: Vec<(f64, f64)> = c
            .quarters
            .iter()
            .enumerate()
            .map(|(q, s)| {
                let cap = s.allocation_cap_tpp.unwrap_or(0);
                let left = cap.saturating_sub(s.allocation_used_tpp);
                (q as f64, h100e(u128::from(left), h))
            })
            .collect();
        let mut binds = c
            .binds
            .map(|q| format!(", binds {}", res.quarters[q as usize]))
            .unwrap_or_default();
        let caps: Vec<u64> = c
            .quarters
            .iter()
            .filter_map(|q| q.allocation_cap_tpp)
            .collect();
        if let (Some(a), Some(b)) = (caps.first(), caps.last())
            && a != b
        {
            binds += &format!(
                "; cap {} → {} H100e (G2G)",
                grouped(h100e(u128::from(*a), h)),
                grouped(h100e(u128::from(*b), h))
            );
        }
        chart
            .draw_series(LineSeries::new(pts.clone(), col.stroke_width(3)))?
            .label(format!("{}{binds}", c.country))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3)));
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, col.filled())))?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
    root.present()?;
    Ok(())
}

fn tiers<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, res: &SimResult) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let run = &res.runs[0];
    let h = res.h100_tpp;
    let nq = res.quarters.len();
    let mut by: BTreeMap<String, Vec<u128>> = BTreeMap::new();
    for c in &run.countries {
        let name = c
            .tier
            .map(|t| t.to_string())
            .unwrap_or_else(|| "no tiers".into());
        let v = by.entry(name).or_insert_with(|| vec![0; nq]);
        for (q, s) in c.quarters.iter().enumerate() {
            v[q] += s.granted_tpp;
        }
    }
    let totals: Vec<u128> = (0..nq).map(|q| by.values().map(|v| v[q]).sum()).collect();
    let ymax = totals.iter().map(|t| h100e(*t, h)).fold(0.0, f64::max) * 1.1;
    let mut chart = quarterly_chart(
        &root,
        res,
        nq,
        format!("Compute granted by destination tier — {}", run.name),
        ymax,
        "Quarter",
        "Granted per quarter",
    )?;
    // Stacked: draw the running totals from the top layer down.
    let names: Vec<&String> = by.keys().collect();
    let mut cum = vec![0u128; nq];
    let mut layers = Vec::new();
    for n in &names {
        for (q, c) in cum.iter_mut().enumerate() {
            *c += by[*n][q];
        }
        layers.push(((*n).clone(), cum.clone()));
    }
    for (i, (name, top)) in layers.iter().enumerate().rev() {
        let col = color(i);
        chart
            .draw_series(
                AreaSeries::new(
                    top.iter()
                        .enumerate()
                        .map(|(q, v)| (q as f64, h100e(*v, h))),
                    0.0,
                    col.mix(0.85),
                )
                .border_style(col.stroke_width(2)),
            )?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], col.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

fn refused<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, res: &SimResult) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let run = &res.runs[0];
    let h = res.h100_tpp;
    let nq = res.quarters.len();
    let mut v: Vec<(u128, &CountryResult)> = run
        .countries
        .iter()
        .map(|c| (c.quarters.iter().map(|q| q.refused_tpp).sum::<u128>(), c))
        .filter(|x| x.0 > 0)
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.country.cmp(&b.1.country)));
    v.truncate(8);
    let ymax = v
        .iter()
        .flat_map(|x| &x.1.quarters)
        .map(|q| h100e(q.refused_tpp, h))
        .fold(0.0, f64::max)
        * 1.1;
    let mut chart = quarterly_chart(
        &root,
        res,
        nq,
        format!("Demand refused by country — {}", run.name),
        ymax,
        "Quarter",
        "Refused per quarter",
    )?;
    if v.is_empty() {
        root.draw(&Text::new(
            "no demand refused under this regime",
            (350, 300),
            ("sans-serif", 20),
        ))?;
    }
    for (i, (total, c)) in v.iter().enumerate() {
        let col = color(i);
        let pts: Vec<(f64, f64)> = c
            .quarters
            .iter()
            .enumerate()
            .map(|(q, s)| (q as f64, h100e(s.refused_tpp, h)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), col.stroke_width(3)))?
            .label(format!(
                "{} ({} H100e in all)",
                c.country,
                grouped(h100e(*total, h))
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3)));
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, col.filled())))?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

fn compare<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, res: &SimResult) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let h = res.h100_tpp;
    // Countries with the most demand (same orders in every run), at most 10.
    let mut top: Vec<(u128, &str)> = res.runs[0]
        .countries
        .iter()
        .map(|c| {
            (
                c.quarters.iter().map(|q| q.demand_tpp).sum::<u128>(),
                c.country.as_str(),
            )
        })
        .collect();
    top.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    top.truncate(10);
    let nr = res.runs.len();
    let nc = top.len();
    let granted = |r: usize, cc: &str| -> f64 {
        res.runs[r]
            .countries
            .iter()
            .find(|c| c.country == cc)
            .map(|c| h100e(c.quarters.iter().map(|q| q.granted_tpp).sum(), h))
            .unwrap_or(0.0)
    };
    let ymax = top.iter().map(|t| h100e(t.0, h)).fold(0.0, f64::max) * 1.12;
    let title = if nr > 1 {
        format!(
            "Granted over {}–{}: {}",
            res.quarters.first().map(String::as_str).unwrap_or(""),
            res.quarters.last().map(String::as_str).unwrap_or(""),
            res.runs
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(" vs ")
        )
    } else {
        format!("Granted vs demanded — {}", res.runs[0].name)
    };
    let labels: Vec<String> = top.iter().map(|t| t.1.to_string()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(95)
        .build_cartesian_2d(-0.5f64..(nc as f64 - 0.5), 0f64..ymax.max(1.0))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(nc.max(1))
        .x_label_formatter(&|x: &f64| {
            let i = x.round();
            if (x - i).abs() > 1e-6 || i < 0.0 {
                String::new()
            } else {
                labels.get(i as usize).cloned().unwrap_or_default()
            }
        })
        .y_label_formatter(&|v| grouped(*v))
        .x_desc("Destination (the countries with the most demand)")
        .y_desc(y_desc(res, "Total over the scenario"))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    let bars = nr + 1;
    let w = 0.8 / bars as f64;
    // Demand first (grey), then each run.
    let demand_col = RGBColor(190, 190, 190);
    chart
        .draw_series(top.iter().enumerate().map(|(i, t)| {
            let x0 = i as f64 - 0.4;
            Rectangle::new([(x0, 0.0), (x0 + w, h100e(t.0, h))], demand_col.filled())
        }))?
        .label("demand")
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], demand_col.filled()));
    for r in 0..nr {
        let col = color(r);
        chart
            .draw_series(top.iter().enumerate().map(|(i, t)| {
                let x0 = i as f64 - 0.4 + w * (r + 1) as f64;
                Rectangle::new([(x0, 0.0), (x0 + w, granted(r, t.1))], col.filled())
            }))?
            .label(format!("granted, {}", res.runs[r].name))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], col.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present()?;
    Ok(())
}

/// The license series of the first run, summed over its countries, per quarter: name → TPP.
fn license_series(res: &SimResult) -> Vec<(&'static str, Vec<u128>)> {
    let run = &res.runs[0];
    let per_quarter = |f: fn(&crate::simulate::QuarterStats) -> u128| -> Vec<u128> {
        (0..res.quarters.len())
            .map(|q| run.countries.iter().map(|c| f(&c.quarters[q])).sum())
            .collect()
    };
    vec![
        ("Applied for", per_quarter(|s| s.license_applied_tpp)),
        (
            "Granted on filing",
            per_quarter(|s| s.licensed_tpp - s.license_delayed_tpp),
        ),
        (
            "Granted after the lag",
            per_quarter(|s| s.license_delayed_tpp),
        ),
        ("Denied", per_quarter(|s| s.license_denied_tpp)),
        (
            "Pending at quarter end",
            per_quarter(|s| s.license_pending_tpp),
        ),
    ]
}

fn licenses<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, res: &SimResult) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let h = res.h100_tpp;
    let nq = res.quarters.len();
    let series = license_series(res);
    let ymax = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|t| h100e(*t, h)))
        .fold(0.0, f64::max)
        * 1.1;
    let mut chart = quarterly_chart(
        &root,
        res,
        nq,
        format!(
            "License applications: delayed grants, denials, pending — {}",
            res.runs[0].name
        ),
        ymax,
        "Quarter (a grant counts in the quarter it is issued)",
        "Per quarter",
    )?;
    for (i, (name, values)) in series.iter().enumerate() {
        let col = color(i);
        chart
            .draw_series(LineSeries::new(
                values
                    .iter()
                    .enumerate()
                    .map(|(q, v)| (q as f64, h100e(*v, h))),
                col.stroke_width(3),
            ))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(3)));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

/// Writes every chart as SVG and PNG into `dir`; returns the paths.
pub fn write_all(dir: &Path, res: &SimResult) -> Result<Vec<PathBuf>, BatchError> {
    register_font();
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    if res.runs.is_empty() {
        return Ok(out);
    }
    macro_rules! chart {
        ($name:literal, $f:ident) => {
            let svg = dir.join(concat!($name, ".svg"));
            $f(SVGBackend::new(&svg, SIZE).into_drawing_area(), res)
                .map_err(|e| std::io::Error::other(format!("chart `{}`: {e}", svg.display())))?;
            out.push(svg);
            let png = dir.join(concat!($name, ".png"));
            $f(BitMapBackend::new(&png, SIZE).into_drawing_area(), res)
                .map_err(|e| std::io::Error::other(format!("chart `{}`: {e}", png.display())))?;
            out.push(png);
        };
    }
    chart!("burn-down", burn_down);
    chart!("tiers", tiers);
    chart!("refused", refused);
    chart!("compare", compare);
    chart!("licenses", licenses);
    Ok(out)
}
