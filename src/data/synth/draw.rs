//! The scene: one person drawn in vector form at the render size, the labels painted along.
//!
//! The head has its own frame: x in face half-widths, y down, origin at the face centre, `h`
//! the half-height. Every vertical landmark (eyes, nose, mouth, chin, mask edges) is placed in
//! that frame with margins chosen so that each class's visibility rules hold after the
//! downsampling (tests/synth.rs checks them on many images).

use tiny_skia::{FillRule, Mask, Path, PathBuilder, Transform};

use super::paint::{oval, poly, quad, rect, smooth, smooth_ring, Canvas, Rgb, CIRCLE16};
use super::post::Light;
use super::rng::{Rng, Stream};
use super::{Part, Variation, Wear};

/// The face outline: an ellipse above the centre line, below it a blend towards a squarer
/// jaw (x² + y⁴ = 1) with an optional taper to the chin.
struct Head {
    h: f32,
    square: f32,
    taper: f32,
    forehead: f32,
}

impl Head {
    /// Half-width of the face at height `y` (0 above and below it).
    fn w(&self, y: f32) -> f32 {
        let v = (y / self.h).clamp(-1.0, 1.0);
        let e = (1.0 - v * v).max(0.0).sqrt();
        if v <= 0.0 {
            e * (1.0 - self.forehead * v * v)
        } else {
            let s = (1.0 - v * v * v * v).max(0.0).sqrt();
            (e + (s - e) * self.square) * (1.0 - self.taper * v * v)
        }
    }

    fn outline(&self) -> Option<Path> {
        const N: usize = 14;
        let mut pts = Vec::with_capacity(2 * N);
        // Denser samples near the top and the chin, where the outline turns fastest.
        let ys: Vec<f32> = (0..=N)
            .map(|k| {
                let u = -1.0 + 2.0 * k as f32 / N as f32;
                u * (1.5 - 0.5 * u * u) * self.h
            })
            .collect();
        for &y in &ys {
            pts.push((self.w(y), y));
        }
        for &y in ys[1..N].iter().rev() {
            pts.push((-self.w(y), y));
        }
        smooth(&pts)
    }
}

/// Landmarks of the face, in the head frame.
struct Feat {
    eye_y: f32,
    eye_dx: f32,
    ew: f32,
    eh: f32,
    brow_y: f32,
    nose_top: f32,
    nose_bot: f32,
    nose_w: f32,
    mouth_y: f32,
    mouth_w: f32,
    upper_lip: f32,
    lower_lip: f32,
    smile: f32,
    open: f32,
    mouth_bot: f32,
    chin_top: f32,
    chin_w: f32,
    ear_y: f32,
}

impl Feat {
    fn sample(rng: &mut Rng, h: f32) -> Feat {
        let eye_y = h * rng.range(-0.21, -0.12);
        let ew = rng.range(0.14, 0.19);
        let eh = ew * rng.range(0.36, 0.5);
        let eye_dx = rng.range(0.36, 0.46);
        let brow_y = eye_y - eh - rng.range(0.07, 0.14);
        // The nose label starts below the bridge, where a well-worn mask's top edge sits.
        let nose_top = eye_y + eh + 0.14;
        let nose_bot = (h * rng.range(0.2, 0.26)).max(nose_top + 0.18);
        let nose_w = rng.range(0.15, 0.23);
        let mouth_y = (h * rng.range(0.44, 0.5)).max(nose_bot + 0.26);
        let mouth_w = rng.range(0.24, 0.36);
        let upper_lip = rng.range(0.065, 0.095);
        let lower_lip = rng.range(0.075, 0.115);
        let smile = rng.range(-0.02, 0.06);
        let open = if rng.chance(0.2) { rng.range(0.025, 0.06) } else { 0.0 };
        let mouth_bot = mouth_y + open + lower_lip;
        let chin_top = mouth_bot + rng.range(0.07, 0.1);
        let chin_w = rng.range(0.45, 0.6);
        let ear_y = (eye_y + nose_bot) * 0.5;
        Feat {
            eye_y,
            eye_dx,
            ew,
            eh,
            brow_y,
            nose_top,
            nose_bot,
            nose_w,
            mouth_y,
            mouth_w,
            upper_lip,
            lower_lip,
            smile,
            open,
            mouth_bot,
            chin_top,
            chin_w,
            ear_y,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum HairStyle {
    Bald,
    Short,
    Long,
    Curly,
    Bob,
    Bun,
}

struct Hair {
    style: HairStyle,
    color: Rgb,
    volume: f32,
    length: f32,
    hairline: f32,
    part: f32,
    bangs: bool,
}

struct Ctx {
    c: Canvas,
    /// Head frame → pixels (rotated with the head).
    t: Transform,
    /// The same without the rotation, for the neck and shoulders.
    body: Transform,
    /// Canvas units ([0, 1]²) → pixels.
    canvas: Transform,
    head: Head,
    skin: Rgb,
    /// Unit vector pointing to where the shadows fall, in the head frame.
    shade: (f32, f32),
}

/// Draws image `index` with the mask worn as `wear` says; returns the canvas and the scene's
/// light, applied by the caller at the output resolution (it is linear in position, so it
/// commutes with the area downsampling up to rounding). A face without a mask draws the same
/// random numbers as a correctly masked one and leaves the mask out.
pub(crate) fn draw(seed: u64, index: u64, wear: Wear, variation: Variation, size: u32) -> (Canvas, Light) {
    let class = wear.mask_class();
    let mut rng = Rng::new(seed, Stream::Base, index);
    let mut var = Rng::new(seed, Stream::Variation, index);
    let r = size as f32;

    let rx = rng.range(0.24, 0.31);
    let head = Head {
        h: rng.range(1.22, 1.4),
        square: rng.range(0.0, 0.7),
        taper: rng.range(0.0, 0.22),
        forehead: rng.range(0.0, 0.12),
    };
    let (cx, cy) = (0.5 + rng.range(-0.07, 0.07), rng.range(0.47, 0.55));
    // Rotation by 2·atan(tn), |θ| ≤ 14°, from the rational form: no trigonometry.
    let tn = rng.range(-0.125, 0.125);
    let (cos, sin) = ((1.0 - tn * tn) / (1.0 + tn * tn), 2.0 * tn / (1.0 + tn * tn));
    let s = rx * r;
    let light = {
        let (a, b) = (rng.range(-1.0, 1.0), rng.range(-1.0, 0.3));
        let n = (a * a + b * b).sqrt().max(0.3);
        (a / n, b / n)
    };
    let mut ctx = Ctx {
        c: Canvas::new(size),
        t: Transform::from_row(s * cos, s * sin, -s * sin, s * cos, cx * r, cy * r),
        body: Transform::from_row(s, 0.0, 0.0, s, cx * r, cy * r),
        canvas: Transform::from_scale(r, r),
        skin: skin_tone(&mut rng),
        head,
        shade: (-light.0, -light.1),
    };
    let f = Feat::sample(&mut rng, ctx.head.h);
    let hair = sample_hair(&mut rng, &f, ctx.head.h);

    background(&mut ctx, &mut rng);
    body(&mut ctx, &mut rng);
    hair_back(&mut ctx, &hair);
    if !matches!(hair.style, HairStyle::Long | HairStyle::Bob) || rng.chance(0.3) {
        ears(&mut ctx, &f);
    }
    let face_clip = face(&mut ctx, &mut rng);
    if variation == Variation::FacePaint {
        face_paint(&mut ctx, &mut var, &face_clip, &f);
    }
    chin(&mut ctx, &f);
    nose(&mut ctx, &f);
    mouth(&mut ctx, &mut rng, &f);
    eyes(&mut ctx, &mut rng, &f, &hair);
    hair_front(&mut ctx, &hair, &f);

    let hijab = variation == Variation::Headgear && var.chance(0.3);
    if hijab {
        draw_hijab(&mut ctx, &mut var, &f);
    }
    let geom = MaskGeom::sample(&mut rng, class, &f, ctx.head.h);
    let look = MaskLook::sample(&mut rng);
    let masked = wear != Wear::NoMask;
    if masked {
        draw_mask(&mut ctx, &geom, &look, &f, !hijab);
    }
    if masked && variation == Variation::DoubleMask {
        // An outer mask over the first, inside its extent so the class's rules still hold.
        let outer = geom.inner(&mut var, class);
        let mut look2 = MaskLook::sample(&mut var);
        if look.style == MaskStyle::Cloth && look2.style == MaskStyle::Cloth {
            look2.style = MaskStyle::Surgical;
        }
        draw_mask(&mut ctx, &outer, &look2, &f, !hijab);
    }
    match variation {
        Variation::Glasses => eyewear(&mut ctx, &mut var, &f, false),
        Variation::Sunglasses => eyewear(&mut ctx, &mut var, &f, true),
        Variation::Headgear if !hijab => hat(&mut ctx, &mut var, &f),
        _ => {}
    }

    (ctx.c, Light::sample(&mut rng, light))
}

/// A colour from hue (0..6), saturation and value (0..255), without trigonometry.
fn hsv(hue: f32, sat: f32, val: f32) -> Rgb {
    let i = (hue as u32) % 6;
    let f = hue - (hue as u32) as f32;
    let (p, q, t) = (val * (1.0 - sat), val * (1.0 - sat * f), val * (1.0 - sat * (1.0 - f)));
    match i {
        0 => Rgb(val, t, p),
        1 => Rgb(q, val, p),
        2 => Rgb(p, val, t),
        3 => Rgb(p, q, val),
        4 => Rgb(t, p, val),
        _ => Rgb(val, p, q),
    }
}

fn any_color(rng: &mut Rng) -> Rgb {
    if rng.chance(0.25) {
        let l = rng.range(20.0, 240.0);
        return Rgb(l, l, l);
    }
    hsv(rng.range(0.0, 6.0), rng.range(0.2, 0.9), rng.range(60.0, 245.0))
}

fn skin_tone(rng: &mut Rng) -> Rgb {
    const RAMP: [Rgb; 8] = [
        Rgb(255.0, 226.0, 200.0),
        Rgb(242.0, 196.0, 163.0),
        Rgb(226.0, 172.0, 130.0),
        Rgb(200.0, 140.0, 96.0),
        Rgb(166.0, 106.0, 68.0),
        Rgb(126.0, 82.0, 52.0),
        Rgb(92.0, 60.0, 40.0),
        Rgb(66.0, 44.0, 31.0),
    ];
    let t = rng.range(0.0, 6.999);
    let i = t as usize;
    let c = RAMP[i].mix(RAMP[i + 1], t - i as f32);
    Rgb(c.0 + rng.range(-8.0, 8.0), c.1 + rng.range(-6.0, 6.0), c.2 + rng.range(-6.0, 6.0)).clamped()
}

fn unit(rng: &mut Rng) -> (f32, f32) {
    let (a, b) = (rng.range(-1.0, 1.0), rng.range(-1.0, 1.0));
    let n = (a * a + b * b).sqrt().max(0.2);
    (a / n, b / n)
}

fn background(ctx: &mut Ctx, rng: &mut Rng) {
    let size = ctx.c.size() as usize;
    let l = rng.range(40.0, 230.0);
    let base = Rgb(l + rng.range(-40.0, 40.0), l + rng.range(-35.0, 35.0), l + rng.range(-40.0, 40.0)).clamped();
    let kind = rng.weighted(&[0.3, 0.35, 0.35]);
    let other = if kind == 0 {
        base
    } else {
        Rgb(base.0 + rng.range(-80.0, 80.0), base.1 + rng.range(-80.0, 80.0), base.2 + rng.range(-80.0, 80.0)).clamped()
    };
    let (dx, dy) = unit(rng);
    let steep = rng.range(0.6, 1.6);
    // t = 0.5 + steep·((x+0.5)/size − 0.5)·dx + …, in 16.16 fixed point: exact and fast.
    let one = 65536.0f32;
    let kx = (steep * dx * one / size as f32) as i32;
    let ky = (steep * dy * one / size as f32) as i32;
    let t0 = (0.5 * one) as i32 - kx * size as i32 / 2 - ky * size as i32 / 2 + (kx + ky) / 2;
    let (b, o) = (base.bytes(), other.bytes());
    for (y, row) in ctx.c.rgb.data_mut().chunks_exact_mut(size * 4).enumerate() {
        let mut t = t0 + ky * y as i32;
        for px in row.chunks_exact_mut(4) {
            let tc = t.clamp(0, 65536) as u32;
            for c in 0..3 {
                px[c] = ((b[c] as u32 * (65536 - tc) + o[c] as u32 * tc + 32768) >> 16) as u8;
            }
            px[3] = 255;
            t += kx;
        }
    }
    if kind != 2 {
        return;
    }
    // Clutter: windows, shelves, posters, lamps and bokeh behind the person.
    let t = ctx.canvas;
    for _ in 0..4 + rng.below(8) {
        let col = if rng.chance(0.5) {
            base.add(rng.range(-90.0, 90.0))
        } else {
            any_color(rng).mix(base, rng.range(0.2, 0.7))
        };
        let alpha = rng.range(0.35, 1.0);
        let (x, y) = (rng.range(-0.1, 1.0), rng.range(-0.1, 1.0));
        match rng.below(4) {
            0 => {
                if let Some(p) = rect(x, y, x + rng.range(0.08, 0.45), y + rng.range(0.08, 0.45)) {
                    ctx.c.fill(&p, col, alpha, t);
                }
            }
            1 => {
                if let Some(p) = oval(x, y, rng.range(0.02, 0.12), rng.range(0.02, 0.12)) {
                    ctx.c.fill(&p, col, alpha * 0.6, t);
                }
            }
            2 => {
                let w = rng.range(0.01, 0.05);
                if let Some(p) = poly(&[(x, y), (x + rng.range(-0.6, 0.6), y + rng.range(-0.6, 0.6))], false) {
                    ctx.c.stroke(&p, col, alpha, w, t);
                }
            }
            _ => {
                // A shelf or a frame: a band across the image.
                let h = rng.range(0.02, 0.08);
                if let Some(p) = rect(-0.1, y, 1.1, y + h) {
                    ctx.c.fill(&p, col, alpha, t);
                }
            }
        }
    }
}

fn body(ctx: &mut Ctx, rng: &mut Rng) {
    let h = ctx.head.h;
    let t = ctx.body;
    let nw = rng.range(0.42, 0.56);
    let y_sh = h + rng.range(0.3, 0.55);
    if let Some(p) = rect(-nw, 0.0, nw, y_sh + 1.5) {
        ctx.c.part(&p, ctx.skin.scale(0.9), Part::Face, t);
    }
    // The jaw's shadow on the neck.
    if let Some(p) = oval(0.0, h * 0.97, nw * 0.95, 0.3) {
        ctx.c.fill(&p, ctx.skin.scale(0.5), 0.45, t);
    }
    let sw = rng.range(1.9, 2.5);
    let col = any_color(rng);
    let v_neck = rng.chance(0.35);
    let mut pb = PathBuilder::new();
    pb.move_to(-sw - 2.0, y_sh + 4.0);
    pb.line_to(-sw - 2.0, y_sh + 1.2);
    pb.quad_to(-sw, y_sh, -nw - 0.1, y_sh + 0.05);
    if v_neck {
        pb.line_to(0.0, y_sh + 0.9);
    } else {
        pb.quad_to(0.0, y_sh + 0.55, nw + 0.1, y_sh + 0.05);
    }
    pb.line_to(nw + 0.1, y_sh + 0.05);
    pb.quad_to(sw, y_sh, sw + 2.0, y_sh + 1.2);
    pb.line_to(sw + 2.0, y_sh + 4.0);
    pb.close();
    let stripes = rng.chance(0.25);
    let stripe_col = any_color(rng);
    let gap = rng.range(0.12, 0.3);
    if let Some(p) = pb.finish() {
        ctx.c.part(&p, col, Part::Background, t);
        if stripes {
            let clip = ctx.c.clip(&p, FillRule::Winding, t);
            let mut y = y_sh - 0.2;
            while y < y_sh + 3.0 {
                if let Some(s) = poly(&[(-5.0, y), (5.0, y)], false) {
                    ctx.c.stroke_in(&s, stripe_col, 0.9, gap * 0.45, t, &clip);
                }
                y += gap;
            }
        }
        // Shoulders turn away from the light.
        if let Some(s) = oval(ctx.shade.0 * 2.0, y_sh + 1.0, 1.6, 1.2) {
            ctx.c.fill(&s, col.scale(0.6), 0.25, t);
        }
    }
}

fn sample_hair(rng: &mut Rng, f: &Feat, h: f32) -> Hair {
    use HairStyle::*;
    let style = [Bald, Short, Long, Curly, Bob, Bun][rng.weighted(&[0.07, 0.3, 0.25, 0.13, 0.15, 0.1])];
    const COLORS: [Rgb; 9] = [
        Rgb(22.0, 18.0, 17.0),
        Rgb(48.0, 32.0, 24.0),
        Rgb(88.0, 57.0, 36.0),
        Rgb(132.0, 94.0, 58.0),
        Rgb(198.0, 162.0, 102.0),
        Rgb(226.0, 204.0, 156.0),
        Rgb(132.0, 56.0, 28.0),
        Rgb(150.0, 150.0, 150.0),
        Rgb(222.0, 222.0, 216.0),
    ];
    let mut color = COLORS[rng.weighted(&[3.0, 3.0, 2.5, 1.5, 1.5, 0.5, 1.0, 1.0, 0.5])];
    if rng.chance(0.05) {
        color = hsv(rng.range(0.0, 6.0), 0.6, 190.0);
    }
    let color = color.scale(rng.range(0.9, 1.1));
    let bangs = matches!(style, Short | Long | Bob) && rng.chance(0.3);
    Hair {
        style,
        color,
        volume: rng.range(0.0, 0.18),
        length: rng.range(0.3, 1.2),
        hairline: (h * rng.range(-0.78, -0.58)).min(f.brow_y - 0.12),
        part: rng.range(-0.4, 0.4),
        bangs,
    }
}

fn hair_back(ctx: &mut Ctx, hair: &Hair) {
    use HairStyle::*;
    let (h, v, t, col) = (ctx.head.h, hair.volume, ctx.t, hair.color);
    let mut shapes: Vec<Path> = Vec::new();
    match hair.style {
        Bald => return,
        Short | Bun => shapes.extend(oval(0.0, -0.3 * h, 1.08 + v, 0.75 * h + v)),
        Long => {
            shapes.extend(oval(0.0, -0.3 * h, 1.1 + v, 0.76 * h + v));
            let l = hair.length;
            shapes.extend(smooth(&[
                (-1.1 - v, -0.5 * h),
                (1.1 + v, -0.5 * h),
                (1.25 + v, 0.5 * h),
                (1.35 + v, h + l),
                (-1.35 - v, h + l),
                (-1.25 - v, 0.5 * h),
            ]));
        }
        Bob => {
            shapes.extend(oval(0.0, -0.3 * h, 1.12 + v, 0.78 * h + v));
            shapes.extend(smooth(&[
                (-1.15 - v, -0.5 * h),
                (1.15 + v, -0.5 * h),
                (1.22 + v, 0.45 * h),
                (1.1 + v, 0.68 * h),
                (-1.1 - v, 0.68 * h),
                (-1.22 - v, 0.45 * h),
            ]));
        }
        Curly => {
            shapes.extend(oval(0.0, -0.25 * h, 1.15 + v, 0.85 * h + v));
            for (i, &(c, s)) in CIRCLE16.iter().enumerate() {
                if s > 0.45 {
                    continue;
                }
                let r = 0.3 + 0.06 * (i % 3) as f32 + v * 0.5;
                shapes.extend(oval((1.1 + v) * c, -0.25 * h + (0.85 * h + v) * s, r, r));
            }
        }
    }
    for p in &shapes {
        ctx.c.part(p, col, Part::Hair, t);
    }
    if hair.style == Bun {
        if let Some(p) = oval(0.0, -h - 0.2 - v, 0.34, 0.3) {
            ctx.c.part(&p, col.scale(0.92), Part::Hair, t);
        }
    }
}

fn ears(ctx: &mut Ctx, f: &Feat) {
    let t = ctx.t;
    for side in [-1.0f32, 1.0] {
        let x = side * (ctx.head.w(f.ear_y) - 0.02);
        if let Some(p) = oval(x, f.ear_y, 0.15, 0.24) {
            ctx.c.part(&p, ctx.skin.scale(0.93), Part::Face, t);
        }
        if let Some(p) = oval(x + side * 0.03, f.ear_y, 0.07, 0.14) {
            ctx.c.fill(&p, ctx.skin.scale(0.7), 0.6, t);
        }
    }
}

/// The face and its shading; returns the face as a clip for paint.
fn face(ctx: &mut Ctx, rng: &mut Rng) -> Mask {
    let t = ctx.t;
    let h = ctx.head.h;
    let outline = ctx.head.outline().expect("the face outline has non-degenerate size");
    ctx.c.part(&outline, ctx.skin, Part::Face, t);
    let clip = ctx.c.clip(&outline, FillRule::Winding, t);
    let (sx, sy) = ctx.shade;
    let depth = rng.range(0.12, 0.32);
    if let Some(p) = oval(sx * 1.25, sy * 0.4 * h + 0.15, 0.95, 1.2 * h) {
        ctx.c.fill_in(&p, ctx.skin.scale(0.62), depth, t, &clip);
    }
    if let Some(p) = oval(-sx * 0.3, -0.5 * h, 0.45, 0.3) {
        ctx.c.fill_in(&p, ctx.skin.scale(1.15), 0.2, t, &clip);
    }
    if rng.chance(0.3) {
        let blush = Rgb(ctx.skin.0, ctx.skin.1 * 0.75, ctx.skin.2 * 0.75);
        for side in [-1.0f32, 1.0] {
            if let Some(p) = oval(side * 0.52, 0.12 * h, 0.2, 0.14) {
                ctx.c.fill_in(&p, blush, 0.25, t, &clip);
            }
        }
    }
    clip
}

fn chin(ctx: &mut Ctx, f: &Feat) {
    let (h, t) = (ctx.head.h, ctx.t);
    // The face below the mouth inside an ellipse whose top is `chin_top`.
    let tall = (h - f.chin_top) * 1.3;
    let yc = f.chin_top + tall;
    let mut right = Vec::new();
    for k in 0..=10 {
        let y = f.chin_top + (h - f.chin_top) * k as f32 / 10.0;
        let e = 1.0 - ((y - yc) / tall) * ((y - yc) / tall);
        right.push(((f.chin_w * e.max(0.0).sqrt()).min(ctx.head.w(y)), y));
    }
    let mut pts = right.clone();
    pts.extend(right.iter().rev().map(|&(x, y)| (-x, y)));
    if let Some(p) = poly(&pts, true) {
        ctx.c.label(&p, Part::Chin, FillRule::Winding, t);
    }
    // A soft highlight on the chin's ball.
    if let Some(p) = oval(-ctx.shade.0 * 0.1, h - (h - f.chin_top) * 0.4, f.chin_w * 0.6, (h - f.chin_top) * 0.3) {
        ctx.c.fill(&p, ctx.skin.scale(1.1), 0.18, t);
    }
}

fn nose(ctx: &mut Ctx, f: &Feat) {
    let (t, skin) = (ctx.t, ctx.skin);
    let (nt, nb, nw) = (f.nose_top, f.nose_bot, f.nose_w);
    let region = [
        (-0.075, nt),
        (0.075, nt),
        (nw * 0.7, nb - 0.13),
        (nw * 1.05, nb - 0.01),
        (nw * 0.5, nb + 0.05),
        (-nw * 0.5, nb + 0.05),
        (-nw * 1.05, nb - 0.01),
        (-nw * 0.7, nb - 0.13),
    ];
    if let Some(p) = smooth(&region) {
        ctx.c.label(&p, Part::Nose, FillRule::Winding, t);
    }
    let sx = if ctx.shade.0 >= 0.0 { 1.0 } else { -1.0 };
    if let Some(p) = quad((sx * 0.06, nt - 0.05), (sx * 0.12, (nt + nb) * 0.5), (sx * nw * 0.6, nb - 0.1)) {
        ctx.c.stroke(&p, skin.scale(0.62), 0.35, 0.06, t);
    }
    if let Some(p) = oval(0.0, nb - 0.06, nw * 0.55, 0.08) {
        ctx.c.fill(&p, skin.scale(1.12), 0.35, t);
    }
    for side in [-1.0f32, 1.0] {
        if let Some(p) = quad((side * nw * 0.55, nb - 0.13), (side * nw * 1.2, nb - 0.05), (side * nw * 0.5, nb + 0.02))
        {
            ctx.c.stroke(&p, skin.scale(0.6), 0.7, 0.035, t);
        }
        if let Some(p) = oval(side * nw * 0.4, nb - 0.005, nw * 0.22, 0.03) {
            ctx.c.fill(&p, skin.scale(0.3), 0.9, t);
        }
    }
    if let Some(p) = oval(0.0, nb + 0.045, nw * 0.8, 0.03) {
        ctx.c.fill(&p, skin.scale(0.55), 0.25, t);
    }
}

fn mouth(ctx: &mut Ctx, rng: &mut Rng, f: &Feat) {
    let t = ctx.t;
    let skin = ctx.skin;
    let lip = if rng.chance(0.12) {
        [Rgb(180.0, 30.0, 45.0), Rgb(200.0, 90.0, 110.0), Rgb(110.0, 30.0, 40.0)][rng.below(3) as usize]
    } else {
        Rgb(skin.0 * 0.82 + 28.0, skin.1 * 0.58, skin.2 * 0.62).clamped()
    };
    let (m, w) = (f.mouth_y, f.mouth_w);
    let yc = m - f.smile;
    let (l, r) = ((-w, yc), (w, yc));
    // A quadratic between the two corners whose middle passes through y = `mid`.
    let through = |mid: f32| 2.0 * mid - yc;
    let upper_top = through(m - f.upper_lip);
    let line = through(m);
    let lower_top = through(m + f.open);
    let lower_bot = through(f.mouth_bot);

    let lips = |top: f32, bot: f32| {
        let mut pb = PathBuilder::new();
        pb.move_to(l.0, l.1);
        pb.quad_to(0.0, top, r.0, r.1);
        pb.quad_to(0.0, bot, l.0, l.1);
        pb.close();
        pb.finish()
    };
    if let Some(p) = lips(upper_top, lower_bot) {
        ctx.c.label(&p, Part::Mouth, FillRule::Winding, t);
    }
    if f.open > 0.0 {
        if let Some(p) = lips(line, lower_top) {
            ctx.c.fill(&p, Rgb(70.0, 25.0, 28.0), 1.0, t);
        }
        if let Some(p) = lips(line, through(m + f.open * 0.45)) {
            ctx.c.fill(&p, Rgb(236.0, 230.0, 218.0), 1.0, t);
        }
    }
    if let Some(p) = lips(upper_top, line) {
        ctx.c.fill(&p, lip.scale(0.9), 1.0, t);
    }
    if let Some(p) = lips(lower_top, lower_bot) {
        ctx.c.fill(&p, lip, 1.0, t);
    }
    if let Some(p) = quad(l, (0.0, line), r) {
        ctx.c.stroke(&p, lip.scale(0.45), 0.8, 0.02, t);
    }
    if let Some(p) = oval(0.0, m + f.open + f.lower_lip * 0.45, w * 0.35, f.lower_lip * 0.25) {
        ctx.c.fill(&p, Rgb(255.0, 255.0, 255.0), 0.15, t);
    }
    // The fold between lower lip and chin.
    let y = f.mouth_bot + 0.035;
    if let Some(p) = quad((-w * 0.4, y), (0.0, y + 0.04), (w * 0.4, y)) {
        ctx.c.stroke(&p, skin.scale(0.6), 0.2, 0.03, t);
    }
}

fn eyes(ctx: &mut Ctx, rng: &mut Rng, f: &Feat, hair: &Hair) {
    let t = ctx.t;
    const IRIS: [Rgb; 6] = [
        Rgb(88.0, 54.0, 30.0),
        Rgb(42.0, 27.0, 18.0),
        Rgb(120.0, 92.0, 46.0),
        Rgb(78.0, 108.0, 70.0),
        Rgb(70.0, 110.0, 160.0),
        Rgb(112.0, 122.0, 132.0),
    ];
    let iris = IRIS[rng.weighted(&[3.0, 3.0, 1.0, 0.8, 1.0, 0.6])];
    let sclera = Rgb(238.0, 232.0, 226.0).scale(rng.range(0.85, 1.0));
    let gaze = rng.range(-0.2, 0.2);
    let brow = hair.color.mix(Rgb(40.0, 30.0, 25.0), 0.45);
    let brow_w = rng.range(0.035, 0.075);
    let arch = rng.range(0.02, 0.08);
    let lash = Rgb(30.0, 22.0, 20.0);
    for side in [-1.0f32, 1.0] {
        let (x, y, ew, eh) = (side * f.eye_dx, f.eye_y, f.ew, f.eh);
        let mut pb = PathBuilder::new();
        pb.move_to(x - ew, y);
        pb.quad_to(x, y - 2.0 * eh, x + ew, y);
        pb.quad_to(x, y + 2.0 * eh, x - ew, y);
        pb.close();
        let Some(eye) = pb.finish() else { continue };
        ctx.c.part(&eye, sclera, Part::Eyes, t);
        let ir = eh * 0.9;
        if let Some(p) = oval(x + gaze * ew, y, ir, ir) {
            ctx.c.fill(&p, iris, 1.0, t);
        }
        if let Some(p) = oval(x + gaze * ew, y, ir * 0.45, ir * 0.45) {
            ctx.c.fill(&p, Rgb(12.0, 10.0, 10.0), 1.0, t);
        }
        if let Some(p) = oval(x + gaze * ew + ir * 0.35, y - ir * 0.35, ir * 0.2, ir * 0.2) {
            ctx.c.fill(&p, Rgb(255.0, 255.0, 255.0), 0.8, t);
        }
        if let Some(p) = quad((x - ew, y), (x, y - 2.0 * eh), (x + ew, y)) {
            ctx.c.stroke(&p, lash, 0.9, 0.035, t);
        }
        if let Some(p) = quad((x - ew * 0.8, y - eh * 1.1), (x, y - eh * 2.6), (x + ew * 0.8, y - eh * 1.1)) {
            ctx.c.stroke(&p, ctx.skin.scale(0.7), 0.4, 0.025, t);
        }
        // The brow, thicker towards the nose.
        let (inner, outer) = (x - side * ew * 1.05, x + side * ew * 1.2);
        if let Some(p) = quad((inner, f.brow_y + 0.02), (x, f.brow_y - arch), (outer, f.brow_y + 0.04)) {
            ctx.c.part_stroke(&p, brow, brow_w, Part::Eyes, t);
        }
    }
}

fn hair_front(ctx: &mut Ctx, hair: &Hair, f: &Feat) {
    if hair.style == HairStyle::Bald {
        return;
    }
    let (h, v, t) = (ctx.head.h, hair.volume, ctx.t);
    // Hugs the skull inside the back hair, from temple to temple over the top.
    let yt = f.brow_y - 0.04;
    let wt = ctx.head.w(yt) + 0.06;
    let yu = -0.72 * h;
    let wu = ctx.head.w(yu) + 0.16 + v * 0.5;
    let crown = -h - 0.06 - v * 0.6;
    let mut pts = vec![(-wt, yt), (-wu, yu), (-0.55, crown), (0.55, crown), (wu, yu), (wt, yt)];
    if hair.bangs {
        pts.extend([(0.75, f.brow_y - 0.06), (0.0, f.brow_y - 0.1), (-0.75, f.brow_y - 0.06)]);
    } else {
        let y = hair.hairline;
        pts.extend([(0.55, y + 0.12), (hair.part * 0.5, y - 0.04), (-0.55, y + 0.12)]);
    }
    if let Some(p) = smooth(&pts) {
        ctx.c.part(&p, hair.color, Part::Hair, t);
    }
    // Strands combed from the parting towards the hairline, and a sheen.
    let from = (hair.part * 0.3, -h + 0.02);
    let end_y = if hair.bangs { f.brow_y - 0.14 } else { hair.hairline - 0.02 };
    for k in 0..5 {
        let x = -0.6 + 0.3 * k as f32;
        if let Some(p) = quad(from, (x * 0.8, (from.1 + end_y) * 0.5 - 0.1), (x * 0.9, end_y)) {
            ctx.c.stroke(&p, hair.color.scale(0.7), 0.35, 0.03, t);
        }
    }
    if let Some(p) = quad((-0.5, -0.85 * h), (-0.1, -h + 0.02), (0.4, -0.88 * h)) {
        ctx.c.stroke(&p, hair.color.scale(1.35).add(15.0), 0.25, 0.07, t);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum MaskStyle {
    Surgical,
    Cloth,
    Kn95,
}

#[derive(Clone, Copy)]
enum Pattern {
    Solid,
    Stripes,
    Dots,
    Check,
}

struct MaskLook {
    style: MaskStyle,
    color: Rgb,
    pattern: Pattern,
    ink: Rgb,
    scale: f32,
    loops: Rgb,
}

impl MaskLook {
    fn sample(rng: &mut Rng) -> MaskLook {
        let style = [MaskStyle::Surgical, MaskStyle::Cloth, MaskStyle::Kn95][rng.weighted(&[0.45, 0.4, 0.15])];
        const SURGICAL: [Rgb; 7] = [
            Rgb(140.0, 192.0, 228.0),
            Rgb(118.0, 172.0, 214.0),
            Rgb(236.0, 238.0, 240.0),
            Rgb(160.0, 212.0, 190.0),
            Rgb(236.0, 182.0, 200.0),
            Rgb(38.0, 38.0, 44.0),
            Rgb(190.0, 190.0, 196.0),
        ];
        let color = match style {
            MaskStyle::Surgical => SURGICAL[rng.weighted(&[4.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5])],
            MaskStyle::Kn95 => [Rgb(240.0, 240.0, 238.0), Rgb(36.0, 36.0, 40.0), any_color(rng)][rng.below(3) as usize],
            MaskStyle::Cloth => any_color(rng),
        };
        let pattern = if style == MaskStyle::Cloth {
            [Pattern::Solid, Pattern::Stripes, Pattern::Dots, Pattern::Check][rng.weighted(&[0.4, 0.25, 0.2, 0.15])]
        } else {
            Pattern::Solid
        };
        let ink = if color.luma() > 128.0 { any_color(rng).scale(0.6) } else { any_color(rng).add(60.0) };
        let loops = if rng.chance(0.6) { Rgb(235.0, 235.0, 235.0) } else { color.scale(0.9) };
        MaskLook { style, color, pattern, ink, scale: rng.range(0.1, 0.22), loops }
    }
}

/// Where a mask sits, in the head frame: its top and bottom at the centre line, how much the
/// top edge drops towards the sides, how far it reaches past the face outline.
struct MaskGeom {
    top: f32,
    bottom: f32,
    droop: f32,
    margin: f32,
    rise: f32,
}

impl MaskGeom {
    fn sample(rng: &mut Rng, class: usize, f: &Feat, h: f32) -> MaskGeom {
        let over_nose = f.eye_y + f.eh + rng.range(0.05, 0.09);
        let under_chin = h + rng.range(0.06, 0.14);
        let (top, bottom, droop) = match class {
            // Correctly worn: from the bridge of the nose to under the chin.
            0 => (over_nose, under_chin, rng.range(0.08, 0.18)),
            // Under the nose: the top edge just below the nostrils, above the upper lip.
            1 => (f.nose_bot + rng.range(0.07, 0.11), under_chin, rng.range(0.04, 0.12)),
            // On the chin: the top edge halfway down the chin.
            2 => {
                let top = f.chin_top + (h - f.chin_top) * rng.range(0.35, 0.5);
                (top, (h + rng.range(0.08, 0.16)).max(top + 0.3), rng.range(0.02, 0.1))
            }
            // Over nose and mouth, the chin bare.
            _ => (over_nose, f.chin_top + rng.range(0.0, 0.06), rng.range(0.08, 0.18)),
        };
        MaskGeom { top, bottom, droop, margin: rng.range(0.03, 0.08), rise: rng.range(0.03, 0.09) }
    }

    /// A second mask worn over this one: a little lower at the top, no lower at the bottom.
    fn inner(&self, rng: &mut Rng, class: usize) -> MaskGeom {
        let bottom = if class == 3 { self.bottom - rng.range(0.0, 0.04) } else { self.bottom - rng.range(0.0, 0.05) };
        MaskGeom {
            top: self.top + rng.range(0.02, 0.05),
            bottom,
            droop: self.droop,
            margin: self.margin * rng.range(0.3, 0.8),
            rise: self.rise,
        }
    }
}

fn draw_mask(ctx: &mut Ctx, g: &MaskGeom, look: &MaskLook, f: &Feat, loops: bool) {
    let head = &ctx.head;
    let h = head.h;
    let xr = |y: f32| head.w(y).max(0.5) + g.margin;
    let yc = g.top + g.droop;
    let under_chin = g.bottom > h;
    let ys = if under_chin { (g.bottom - 0.3).min(0.75 * h).max(yc + 0.12) } else { (g.bottom - g.rise).max(yc + 0.1) };
    let side: Vec<(f32, f32)> = (0..=5)
        .map(|k| {
            let y = yc + (ys - yc) * k as f32 / 5.0;
            (xr(y), y)
        })
        .collect();
    let pointed = look.style == MaskStyle::Kn95;
    let mut pb = PathBuilder::new();
    pb.move_to(-side[0].0, yc);
    if pointed {
        pb.line_to(0.0, g.top);
        pb.line_to(side[0].0, yc);
    } else {
        pb.quad_to(0.0, 2.0 * g.top - yc, side[0].0, yc);
    }
    for p in &side[1..] {
        pb.line_to(p.0, p.1);
    }
    let xs = side[5].0;
    if under_chin {
        pb.quad_to(0.95 * xs, g.bottom, 0.0, g.bottom);
        pb.quad_to(-0.95 * xs, g.bottom, -xs, ys);
    } else if pointed {
        pb.line_to(0.0, g.bottom);
        pb.line_to(-xs, ys);
    } else {
        pb.quad_to(0.0, 2.0 * g.bottom - ys, -xs, ys);
    }
    for p in side[..5].iter().rev() {
        pb.line_to(-p.0, p.1);
    }
    pb.close();
    let Some(shape) = pb.finish() else { return };
    let t = ctx.t;
    let col = look.color;
    // The top and bottom edges alone, for the bound seams (cheaper than stroking the shape).
    let (x0, x5) = (side[0].0, side[5].0);
    let top_edge = if pointed {
        poly(&[(-x0, yc), (0.0, g.top), (x0, yc)], false)
    } else {
        quad((-x0, yc), (0.0, 2.0 * g.top - yc), (x0, yc))
    };
    let bottom_edge = if under_chin {
        quad((-x5, g.bottom - 0.02), (0.0, g.bottom + 0.02), (x5, g.bottom - 0.02))
    } else if pointed {
        poly(&[(-x5, ys), (0.0, g.bottom), (x5, ys)], false)
    } else {
        quad((-x5, ys), (0.0, 2.0 * g.bottom - ys), (x5, ys))
    };

    if loops {
        let ew = ctx.head.w(f.ear_y) + 0.04;
        for s in [-1.0f32, 1.0] {
            let a = quad(
                (s * side[0].0 * 0.97, yc + 0.03),
                (s * (side[0].0 + 0.1), (yc + f.ear_y) * 0.5),
                (s * ew, f.ear_y - 0.1),
            );
            let b = quad((s * xs * 0.97, ys - 0.03), (s * (xs + 0.14), (ys + f.ear_y) * 0.5), (s * ew, f.ear_y + 0.12));
            for p in a.iter().chain(b.iter()) {
                ctx.c.part_stroke(p, look.loops, 0.035, Part::Mask, t);
            }
        }
    }
    ctx.c.part(&shape, col, Part::Mask, t);
    let clip = ctx.c.clip(&shape, FillRule::Winding, t);
    let ink = look.ink;
    let (x0, x1) = (-xs - 0.5, xs + 0.5);
    match look.pattern {
        Pattern::Solid => {}
        Pattern::Stripes => {
            let step = look.scale;
            let mut y = g.top - 1.0;
            while y < g.bottom + 0.5 {
                if let Some(p) = poly(&[(x0, y), (x1, y + 0.6)], false) {
                    ctx.c.stroke_in(&p, ink, 0.9, step * 0.45, t, &clip);
                }
                y += step;
            }
        }
        Pattern::Dots => {
            let step = look.scale;
            let mut row = 0;
            let mut y = g.top;
            while y < g.bottom + 0.1 {
                let mut x = x0 + if row % 2 == 0 { 0.0 } else { step * 0.5 };
                while x < x1 {
                    if let Some(p) = oval(x, y, step * 0.22, step * 0.22) {
                        ctx.c.fill_in(&p, ink, 0.95, t, &clip);
                    }
                    x += step;
                }
                y += step * 0.87;
                row += 1;
            }
        }
        Pattern::Check => {
            let step = look.scale * 1.3;
            let mut v = x0;
            while v < x1 {
                if let Some(p) = rect(v, g.top - 0.5, v + step * 0.5, g.bottom + 0.5) {
                    ctx.c.fill_in(&p, ink, 0.35, t, &clip);
                }
                v += step;
            }
            let mut v = g.top - 0.3;
            while v < g.bottom + 0.3 {
                if let Some(p) = rect(x0, v, x1, v + step * 0.5) {
                    ctx.c.fill_in(&p, ink, 0.35, t, &clip);
                }
                v += step;
            }
        }
    }
    match look.style {
        MaskStyle::Surgical => {
            // Three pleats across, each with a fold shadow and a lit edge.
            for k in 1..=3 {
                let fr = k as f32 / 4.0;
                let yl = yc + (ys - yc) * fr;
                let ym = g.top + ((if under_chin { g.bottom - 0.1 } else { g.bottom }) - g.top) * fr;
                let cy = 2.0 * ym - yl;
                if let Some(p) = quad((-xr(yl), yl), (0.0, cy), (xr(yl), yl)) {
                    ctx.c.stroke_in(&p, col.scale(0.72), 0.8, 0.03, t, &clip);
                }
                if let Some(p) = quad((-xr(yl), yl + 0.03), (0.0, cy + 0.03), (xr(yl), yl + 0.03)) {
                    ctx.c.stroke_in(&p, col.scale(1.15).add(10.0), 0.5, 0.02, t, &clip);
                }
            }
            binding(ctx, &top_edge, &bottom_edge, col, t, &clip);
        }
        MaskStyle::Cloth => {
            if let Some(p) = quad((0.0, g.top), (0.05, (g.top + g.bottom) * 0.5), (0.0, g.bottom)) {
                ctx.c.stroke_in(&p, col.scale(0.7), 0.7, 0.03, t, &clip);
            }
        }
        MaskStyle::Kn95 => {
            if let Some(p) = poly(&[(0.0, g.top), (0.0, g.bottom)], false) {
                ctx.c.stroke_in(&p, col.scale(0.75), 0.8, 0.03, t, &clip);
            }
            let s = if ctx.shade.0 >= 0.0 { 1.0 } else { -1.0 };
            if let Some(p) = rect(0.0f32.min(s * 3.0), g.top - 1.0, 0.0f32.max(s * 3.0), g.bottom + 1.0) {
                ctx.c.fill_in(&p, col.scale(0.6), 0.15, t, &clip);
            }
            binding(ctx, &top_edge, &bottom_edge, col, t, &clip);
        }
    }
    // The mask curves away from the light underneath and at the shadow side.
    if let Some(p) = oval(ctx.shade.0 * 0.9, g.bottom + 0.1, 1.3, (g.bottom - g.top) * 0.6) {
        ctx.c.fill_in(&p, col.scale(0.55), 0.25, t, &clip);
    }
}

fn binding(ctx: &mut Ctx, top: &Option<Path>, bottom: &Option<Path>, col: Rgb, t: Transform, clip: &Mask) {
    for p in top.iter().chain(bottom.iter()) {
        ctx.c.stroke_in(p, col.scale(0.85), 0.9, 0.1, t, clip);
    }
}

fn face_paint(ctx: &mut Ctx, var: &mut Rng, clip: &Mask, f: &Feat) {
    const PAINT: [Rgb; 8] = [
        Rgb(220.0, 30.0, 40.0),
        Rgb(30.0, 80.0, 200.0),
        Rgb(248.0, 248.0, 248.0),
        Rgb(22.0, 22.0, 22.0),
        Rgb(40.0, 160.0, 60.0),
        Rgb(250.0, 200.0, 20.0),
        Rgb(160.0, 40.0, 170.0),
        Rgb(250.0, 120.0, 20.0),
    ];
    let (t, h) = (ctx.t, ctx.head.h);
    let designs = if var.chance(0.7) { 1 } else { 2 };
    for _ in 0..designs {
        let col = PAINT[var.below(8) as usize];
        match var.below(5) {
            0 => {
                let s = var.sign();
                if let Some(p) = rect(0.0f32.min(s * 3.0), -3.0, 0.0f32.max(s * 3.0), 3.0) {
                    ctx.c.fill_in(&p, col, 0.9, t, clip);
                }
            }
            1 => {
                let n = 2 + var.below(2);
                for s in [-1.0f32, 1.0] {
                    for k in 0..n {
                        let y = -0.05 + 0.13 * k as f32;
                        if let Some(p) = poly(&[(s * 0.42, y), (s * 0.95, y + 0.08)], false) {
                            ctx.c.stroke_in(&p, col, 0.95, 0.07, t, clip);
                        }
                    }
                }
            }
            2 => {
                if let Some(p) = rect(-3.0, -3.0, 3.0, 3.0) {
                    ctx.c.fill_in(&p, col, var.range(0.7, 0.9), t, clip);
                }
            }
            3 => {
                if let Some(p) = rect(-3.0, f.brow_y - 0.08, 3.0, f.eye_y + f.eh + 0.1) {
                    ctx.c.fill_in(&p, col, 0.95, t, clip);
                }
            }
            _ => {
                for _ in 0..10 + var.below(12) {
                    let (x, y) = (var.range(-0.9, 0.9), var.range(-0.9 * h, 0.4 * h));
                    let r = var.range(0.03, 0.07);
                    if let Some(p) = oval(x, y, r, r) {
                        ctx.c.fill_in(&p, col, 0.95, t, clip);
                    }
                }
            }
        }
    }
}

fn eyewear(ctx: &mut Ctx, var: &mut Rng, f: &Feat, dark: bool) {
    let t = ctx.t;
    let shape = var.below(3);
    let lw = f.ew * if dark { var.range(1.5, 1.85) } else { var.range(1.35, 1.65) };
    let lh = (f.eh * var.range(2.3, 3.0)).max(lw * 0.62);
    let y = f.eye_y + 0.01;
    const FRAMES: [Rgb; 5] = [
        Rgb(20.0, 20.0, 22.0),
        Rgb(160.0, 150.0, 130.0),
        Rgb(90.0, 50.0, 25.0),
        Rgb(120.0, 30.0, 40.0),
        Rgb(40.0, 60.0, 110.0),
    ];
    let frame = FRAMES[var.below(5) as usize];
    let width = if dark { var.range(0.04, 0.07) } else { var.range(0.025, 0.05) };
    const LENSES: [Rgb; 4] =
        [Rgb(18.0, 18.0, 22.0), Rgb(45.0, 32.0, 22.0), Rgb(28.0, 40.0, 72.0), Rgb(60.0, 70.0, 60.0)];
    let tint = LENSES[var.below(4) as usize];
    for s in [-1.0f32, 1.0] {
        let x = s * f.eye_dx;
        let lens = match shape {
            0 => oval(x, y, lw, lh),
            1 => smooth(&[
                (x - lw, y - lh),
                (x + lw, y - lh),
                (x + lw * 1.05, y + lh * 0.6),
                (x + lw * 0.8, y + lh * 1.05),
                (x - lw * 0.8, y + lh * 1.05),
                (x - lw * 1.05, y + lh * 0.6),
            ]),
            _ => smooth(&[
                (x - s * lw, y - lh * 0.85),
                (x + s * lw, y - lh * 0.95),
                (x + s * lw * 1.1, y + lh * 0.2),
                (x + s * lw * 0.55, y + lh * 1.15),
                (x - s * lw * 0.7, y + lh * 0.95),
                (x - s * lw * 1.05, y),
            ]),
        };
        let Some(lens) = lens else { continue };
        if dark {
            ctx.c.part(&lens, tint, Part::Accessory, t);
            if let Some(p) = poly(&[(x - lw * 0.5, y + lh * 0.3), (x + lw * 0.3, y - lh * 0.5)], false) {
                ctx.c.stroke(&p, Rgb(255.0, 255.0, 255.0), 0.22, 0.05, t);
            }
        }
        ctx.c.part_stroke(&lens, frame, width, Part::Accessory, t);
        let temple = ctx.head.w(y) + 0.04;
        if let Some(p) = poly(&[(x + s * lw * 0.95, y - lh * 0.3), (s * temple, y - lh * 0.2)], false) {
            ctx.c.part_stroke(&p, frame, width, Part::Accessory, t);
        }
    }
    let bx = f.eye_dx - lw * 0.95;
    if let Some(p) = quad((-bx, y - lh * 0.2), (0.0, y - lh * 0.6), (bx, y - lh * 0.2)) {
        ctx.c.part_stroke(&p, frame, width, Part::Accessory, t);
    }
}

fn hat(ctx: &mut Ctx, var: &mut Rng, f: &Feat) {
    let (t, h) = (ctx.t, ctx.head.h);
    let col = any_color(var);
    let band = (f.brow_y - 0.18).min(-h * var.range(0.5, 0.62));
    match var.weighted(&[0.4, 0.32, 0.28]) {
        0 => {
            // A cap: crown, seams, button and a visor.
            let crown = smooth(&[
                (-1.12, band + 0.04),
                (-1.18, (band - h) * 0.5),
                (-0.7, -h - 0.28),
                (0.7, -h - 0.28),
                (1.18, (band - h) * 0.5),
                (1.12, band + 0.04),
                (0.0, band - 0.02),
            ]);
            if let Some(p) = crown {
                ctx.c.part(&p, col, Part::Accessory, t);
            }
            for s in [-0.45f32, 0.45] {
                if let Some(p) = quad((0.0, -h - 0.24), (s * 0.9, -h + 0.05), (s, band)) {
                    ctx.c.stroke(&p, col.scale(0.7), 0.5, 0.025, t);
                }
            }
            if let Some(p) = oval(0.0, -h - 0.26, 0.08, 0.05) {
                ctx.c.part(&p, col.scale(0.8), Part::Accessory, t);
            }
            let vx = var.range(-0.3, 0.3);
            if let Some(p) = oval(vx, band + 0.03, var.range(0.85, 1.05), var.range(0.1, 0.15)) {
                ctx.c.part(&p, col.scale(0.78), Part::Accessory, t);
            }
        }
        1 => {
            // A beanie: a tall crown with a ribbed cuff and maybe a pom-pom.
            let crown = smooth(&[
                (-1.14, band),
                (-1.2, (band - h) * 0.5),
                (-0.6, -h - 0.42),
                (0.6, -h - 0.42),
                (1.2, (band - h) * 0.5),
                (1.14, band),
            ]);
            if let Some(p) = crown {
                ctx.c.part(&p, col, Part::Accessory, t);
            }
            if let Some(cuff) =
                smooth(&[(-1.18, band - 0.3), (1.18, band - 0.3), (1.16, band + 0.02), (-1.16, band + 0.02)])
            {
                ctx.c.part(&cuff, col.scale(0.85), Part::Accessory, t);
                let clip = ctx.c.clip(&cuff, FillRule::Winding, t);
                let mut x = -1.2;
                while x < 1.2 {
                    if let Some(p) = poly(&[(x, band - 0.35), (x, band + 0.05)], false) {
                        ctx.c.stroke_in(&p, col.scale(0.6), 0.5, 0.03, t, &clip);
                    }
                    x += 0.1;
                }
            }
            if var.chance(0.4) {
                if let Some(p) = oval(0.0, -h - 0.48, 0.22, 0.2) {
                    ctx.c.part(&p, any_color(var), Part::Accessory, t);
                }
            }
        }
        _ => {
            // A brimmed hat: the brim behind, the crown and its ribbon in front.
            let brim_y = band - 0.05;
            if let Some(p) = oval(0.0, brim_y, var.range(1.5, 1.9), var.range(0.16, 0.24)) {
                ctx.c.part(&p, col.scale(0.85), Part::Accessory, t);
            }
            if let Some(p) =
                smooth(&[(-0.95, brim_y), (-0.92, -h - 0.25), (0.0, -h - 0.42), (0.92, -h - 0.25), (0.95, brim_y)])
            {
                ctx.c.part(&p, col, Part::Accessory, t);
            }
            if let Some(p) = poly(&[(-0.94, brim_y - 0.12), (0.94, brim_y - 0.12)], false) {
                ctx.c.part_stroke(&p, any_color(var), 0.12, Part::Accessory, t);
            }
        }
    }
}

/// A scarf worn as hijab: covers hair, ears, the face's edge and the neck, leaving the face
/// open from the forehead to just below the chin.
fn draw_hijab(ctx: &mut Ctx, var: &mut Rng, f: &Feat) {
    let (t, h) = (ctx.t, ctx.head.h);
    let col = if var.chance(0.5) { any_color(var).scale(0.8) } else { any_color(var) };
    let outer = [
        (0.0, -h - 0.35),
        (1.3, -0.95 * h),
        (1.5, 0.3 * h),
        (1.7, h + 0.6),
        (2.6, h + 2.5),
        (-2.6, h + 2.5),
        (-1.7, h + 0.6),
        (-1.5, 0.3 * h),
        (-1.3, -0.95 * h),
    ];
    let top = (f.brow_y - 0.2).max(-0.78 * h);
    let bottom = h + 0.03;
    let mut right = Vec::new();
    for k in 0..=8 {
        let y = top + (bottom - top) * k as f32 / 8.0;
        right.push(((ctx.head.w(y) * 0.93).max(0.15), y));
    }
    let mut inner: Vec<(f32, f32)> = right.clone();
    inner.extend(right.iter().rev().map(|&(x, y)| (-x, y)));
    let mut pb = PathBuilder::new();
    for ring in [&outer[..], &inner[..]] {
        smooth_ring(&mut pb, ring);
    }
    let Some(p) = pb.finish() else { return };
    ctx.c.fill_rule(&p, col, FillRule::EvenOdd, t);
    ctx.c.label(&p, Part::Accessory, FillRule::EvenOdd, t);
    let clip = ctx.c.clip(&p, FillRule::EvenOdd, t);
    for s in [-1.0f32, 1.0] {
        for k in 0..3 {
            let x = s * (1.05 + 0.15 * k as f32);
            if let Some(q) = quad((s * 0.9, -h - 0.1), (x + s * 0.2, 0.2 * h), (x, h + 1.5)) {
                ctx.c.stroke_in(&q, col.scale(0.7), 0.35, 0.05, t, &clip);
            }
        }
    }
    if let Some(q) = oval(ctx.shade.0 * 1.2, 0.0, 1.4, 2.2 * h) {
        ctx.c.fill_in(&q, col.scale(0.55), 0.3, t, &clip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_width_is_one_at_the_centre_and_zero_at_the_ends() {
        let head = Head { h: 1.3, square: 0.5, taper: 0.1, forehead: 0.1 };
        assert!((head.w(0.0) - 1.0).abs() < 1e-6);
        assert_eq!(head.w(-1.3), 0.0);
        assert_eq!(head.w(1.3), 0.0);
        assert!(head.w(0.9) < head.w(0.5));
    }

    #[test]
    fn hsv_primaries() {
        assert_eq!(hsv(0.0, 1.0, 255.0).bytes(), [255, 0, 0]);
        assert_eq!(hsv(2.0, 1.0, 255.0).bytes(), [0, 255, 0]);
        assert_eq!(hsv(4.0, 1.0, 255.0).bytes(), [0, 0, 255]);
    }
}
