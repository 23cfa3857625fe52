"""What the "Your own digit" page shows: a drawing canvas, the prepared input, and what each model makes of it.

The canvas is a small Streamlit custom component (components v2: inline HTML/JS, no build step,
nothing fetched from the network): 280x280 pixels, white strokes on black like MNIST, a Clear
button; it hands Python the drawing as a PNG data URL when a stroke ends. All image work is in
`aigc_core.experiments.own_digit`; this module only draws, keeps the two digit slots in Session State, and
remembers GAN inversions (seconds each) so a rerun caused by another widget does not repeat them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from aigc_core.experiments.augment import is_conditional_source
from aigc_core.experiments import own_digit
from aigc_core.experiments.own_digit import Inversion, PreparedDigit
from aigc_core.images import png_bytes
from ui import latent_view, sources_view, share
from ui.cache import load_model, model_sources
from ui.charts import FONT_SIZE, image_grid_png
from ui.i18n import N_, _

SLOTS = ("A", "B")
SLOTS_KEY = "own_digit_slots"
INVERSIONS_KEY = "own_digit_inversions"
MAX_REMEMBERED_INVERSIONS = 8
NUM_FRAMES = 8
STEP_CHOICES = (100, 200, 400)
PROGRESS_EVERY = 10
MARK_COLOURS = {"your digit": "#111111", "digit A": "#D55E00", "digit B": "#0072B2"}
INPUT_LABELS = {"Draw": N_("Draw"), "Upload": N_("Upload")}
# This module's own one-line error; aigc_core.experiments.own_digit's carry their template (`MessageError`),
# marked there and translated by `error_text`.
LIBRARY_MESSAGES = (
    N_("upload a PNG or JPEG image of one digit"),
)

CANVAS_HTML = """
<div class="digit-canvas">
  <canvas width="280" height="280" aria-label="Drawing area: draw one digit with the mouse"></canvas>
  <button type="button">Clear</button>
</div>
"""

CANVAS_CSS = """
.digit-canvas { display: flex; flex-direction: column; align-items: flex-start; gap: 0.5rem; }
.digit-canvas canvas { width: 280px; height: 280px; background: #000; border-radius: 0.5rem;
                       cursor: crosshair; touch-action: none; border: 1px solid #888; }
.digit-canvas button { font: inherit; padding: 0.25rem 1rem; border-radius: 0.5rem; cursor: pointer;
                       border: 1px solid var(--st-border-color, #888); background: transparent;
                       color: var(--st-text-color, inherit); }
"""

# Strokes 22 px wide on 280 px: about 2 px once the drawing is scaled to MNIST's 20 px box.
CANVAS_JS = """
export default function (component) {
  const { parentElement, setStateValue, data } = component;
  const canvas = parentElement.querySelector("canvas");
  const clear = parentElement.querySelector("button");
  // The labels follow the page's language, also on a canvas that is already drawn.
  if (clear && data && data.clear) { clear.textContent = data.clear; }
  if (canvas && data && data.area) { canvas.setAttribute("aria-label", data.area); }
  if (!canvas || canvas.dataset.ready === "1") { return; }
  canvas.dataset.ready = "1";
  const pen = canvas.getContext("2d");
  const blank = () => { pen.fillStyle = "#000"; pen.fillRect(0, 0, canvas.width, canvas.height); };
  blank();
  // A remounted canvas shows the drawing Python still holds.
  if (data && data.image) {
    const picture = new Image();
    picture.onload = () => pen.drawImage(picture, 0, 0, canvas.width, canvas.height);
    picture.src = data.image;
  }
  pen.strokeStyle = "#fff"; pen.fillStyle = "#fff";
  pen.lineWidth = 22; pen.lineCap = "round"; pen.lineJoin = "round";
  let drawing = false, last = null, drawn = false;
  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return { x: (event.clientX - box.left) * canvas.width / box.width,
             y: (event.clientY - box.top) * canvas.height / box.height };
  };
  const down = (event) => {
    drawing = true; last = point(event); drawn = true;
    pen.fillStyle = "#fff"; pen.beginPath(); pen.arc(last.x, last.y, pen.lineWidth / 2, 0, 2 * Math.PI); pen.fill();
    if (canvas.setPointerCapture) { try { canvas.setPointerCapture(event.pointerId); } catch (error) {} }
    event.preventDefault();
  };
  const move = (event) => {
    if (!drawing) { return; }
    const next = point(event);
    pen.beginPath(); pen.moveTo(last.x, last.y); pen.lineTo(next.x, next.y); pen.stroke();
    last = next;
    event.preventDefault();
  };
  const up = () => {
    if (!drawing) { return; }
    drawing = false;
    if (drawn) { setStateValue("image", canvas.toDataURL("image/png")); }
  };
  const wipe = () => { blank(); drawn = false; setStateValue("image", null); };
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointerleave", up);
  clear.addEventListener("click", wipe);
  return () => {
    canvas.removeEventListener("pointerdown", down);
    canvas.removeEventListener("pointermove", move);
    canvas.removeEventListener("pointerup", up);
    canvas.removeEventListener("pointerleave", up);
    clear.removeEventListener("click", wipe);
    delete canvas.dataset.ready;
  };
}
"""

_canvas = st.components.v2.component("aigc_digit_canvas", html=CANVAS_HTML, css=CANVAS_CSS, js=CANVAS_JS)


# -- input ------------------------------------------------------------------------------------
def drawing_canvas(key: str) -> str | None:
    """Draw the canvas; the drawing as a PNG data URL, or None before the first stroke (or after Clear)."""
    previous = st.session_state.get(key)
    image = previous.get("image") if isinstance(previous, dict) else None
    data = {"image": image, "clear": _("Clear"), "area": _("Drawing area: draw one digit with the mouse")}
    result = _canvas(key=key, data=data, default={"image": None}, width=300, height=330,
                     on_image_change=lambda: None)
    value = result.get("image") if result is not None else None
    return value if isinstance(value, str) and value else None


def digit_from_upload(uploaded) -> PreparedDigit:
    """An `st.file_uploader` file (anything with `getvalue()`) made MNIST-like.

    Raises:
        ValueError: one line, for a file that is not a usable PNG/JPEG digit.
    """
    if uploaded is None:
        raise ValueError("upload a PNG or JPEG image of one digit")
    return own_digit.prepare_upload(uploaded.getvalue())


def digit_png(image: np.ndarray, scale: int = 8) -> bytes:
    """One 28x28 digit as a crisp enlarged PNG."""
    return image_grid_png(np.asarray(image)[None], columns=1, scale=scale)


def preview_png(preview: np.ndarray) -> bytes:
    return png_bytes((np.clip(preview, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


def render_prepared(prepared: PreparedDigit) -> None:
    """The user's image beside what the models will see, and why they differ."""
    original_column, prepared_column = st.columns(2)
    original_column.image(preview_png(prepared.preview), width="stretch", caption=_("your image"))
    prepared_column.image(digit_png(prepared.image), width="stretch",
                          caption=_("as MNIST: 28 × 28, fitted to 20 × 20, centred by mass"))
    if prepared.inverted:
        st.caption(_("Dark ink on a light background was inverted: MNIST digits are light on black."))


def error_text(error: Exception) -> str:
    """An error's first line for the page in the session's language (the library's carry their template)."""
    return _(sources_view.one_line(error))


# -- the two slots ----------------------------------------------------------------------------
def slots() -> dict[str, np.ndarray]:
    """The digits kept as "A" and "B" in this session (28x28 arrays)."""
    return st.session_state.setdefault(SLOTS_KEY, {})


def both_slots_kept() -> bool:
    return all(slot in slots() for slot in SLOTS)


def render_slot_buttons(prepared: PreparedDigit | None) -> None:
    """Buttons that keep the current digit as digit A or B, and the kept ones as thumbnails."""
    kept = slots()
    columns = st.columns(len(SLOTS))
    for column, slot in zip(columns, SLOTS):
        with column:
            if st.button(_("Keep as digit {slot}").format(slot=slot), key=f"digit_keep_{slot.lower()}", disabled=prepared is None,
                         width="stretch"):
                kept[slot] = prepared.image.copy()
            if slot in kept:
                st.image(digit_png(kept[slot], scale=4), caption=_("digit {slot}").format(slot=slot),
                         width=112)
            else:
                st.caption(_("digit {slot}: empty").format(slot=slot))


# -- model choice -----------------------------------------------------------------------------
# The VAE a fresh page starts on: the shipped 2-D one, so the scatter can place the drawing (the
# 16-D vae-fast draws sharper digits but has no plane to put a star on).
PREFERRED_SOURCES = {"vae": "weights:vae-map"}


def choose_source(family: str, widget_key: str, url_param: str):
    """A selectbox over the unconditional sources of one family (shipped weights first); the chosen key or None."""
    sources = [source for source in model_sources() if source.family == family and not is_conditional_source(source)]
    if not sources:
        return None
    by_key = {source.key: source for source in sources}
    preferred = PREFERRED_SOURCES.get(family)
    share.restore_choice(widget_key, url_param, list(by_key), preferred if preferred in by_key else sources[0].key)
    key = st.selectbox(f"{sources_view.FAMILY_NAMES[family]}", list(by_key), key=widget_key,
                       format_func=lambda source_key: sources_view.source_label(by_key[source_key]))
    share.publish(url_param, key)
    return key


def load_or_explain(key: str | None, family: str):
    """The model behind a key, or None after one line that says why not."""
    if key is None:
        st.info(_("No {model} yet (no shipped weights, no finished run): train one on the **Train** page.").format(
            model=sources_view.FAMILY_NAMES[family]))
        return None
    try:
        return load_model(key)
    except ValueError as error:
        st.error(_("Could not load {key}: {reason}").format(key=key, reason=sources_view.one_line(error)))
        return None


# -- the VAE ----------------------------------------------------------------------------------
def scatter_with_marks(points, labels, axes: str, marks: list[tuple[str, str, np.ndarray]]) -> go.Figure:
    """The encoded test set with each of the user's digits, (label, colour, posterior mean), as a large star."""
    figure = latent_view.latent_scatter_figure(points, labels, axes)
    for name, colour, position in marks:
        figure.add_trace(go.Scatter(
            x=[float(position[0])], y=[float(position[1])], mode="markers+text", name=name,
            text=[name], textposition="top center", textfont={"size": FONT_SIZE + 2},
            marker={"symbol": "star", "size": 26, "color": colour, "line": {"color": "white", "width": 2}},
            hovertemplate=f"{name}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
        ))
    return figure


def digit_marks(model, prepared: PreparedDigit | None) -> list[tuple[str, str, np.ndarray]]:
    """Stars for the current digit and the kept ones; a kept digit equal to the current one shares its star."""
    marks, current = [], digest(prepared.image) if prepared is not None else None
    same_as_current = [slot for slot, image in slots().items() if digest(image) == current]
    if prepared is not None:
        name = _("your digit") + "".join(_(" = digit {slot}").format(slot=slot) for slot in same_as_current)
        marks.append((name, MARK_COLOURS["your digit"], own_digit.vae_encode(model, prepared.image)[0]))
    for slot, image in sorted(slots().items()):
        if slot not in same_as_current:
            marks.append((_("digit {slot}").format(slot=slot), MARK_COLOURS[f"digit {slot}"],
                          own_digit.vae_encode(model, image)[0]))
    return marks


def render_vae(model, prepared: PreparedDigit) -> None:
    """The current digit beside its reconstruction (encode to the posterior mean, decode)."""
    mean, _log_variance = own_digit.vae_encode(model, prepared.image)
    rebuilt = own_digit.vae_reconstruct(model, prepared.image)
    input_column, output_column = st.columns(2)
    input_column.image(digit_png(prepared.image), width="stretch", caption=_("input"))
    output_column.image(digit_png(rebuilt), width="stretch",
                        caption=_("reconstruction (distance {distance:.3f})").format(
                            distance=own_digit.pixel_distance(rebuilt, prepared.image)))
    st.caption(_("Encoded to its posterior mean z = ({values}), then decoded.").format(
        values=", ".join(f"{value:.2f}" for value in mean[:4]) + (", …" if len(mean) > 4 else "")))
    try:
        readings = own_digit.read_digits(np.stack([prepared.image, rebuilt]))
    except ValueError:  # no shipped classifier: the distance is still explained
        readings = None
    st.markdown(reconstruction_note(own_digit.pixel_distance(rebuilt, prepared.image), readings))


def reconstruction_note(distance: float, readings: list[tuple[int, float]] | None) -> str:
    """The reconstruction's distance in plain words, and whether it is still the same digit.

    The distance is a root-mean-square pixel difference, so it reads as "a typical pixel is off by
    this share of full brightness". Whether the digit changed is the project's classifier's
    reading of the input and of the reconstruction: a small distance can still be another digit
    (a 4 closed into a 9), and a large one the same digit drawn thicker.
    """
    text = _("**Distance {distance:.3f}**: a typical pixel of the reconstruction is off by about {percent:.0%} of full "
             "brightness (0 = the same image, 1 = every pixel opposite).").format(distance=distance, percent=distance)
    if not readings:
        return text
    (drawn, drawn_probability), (rebuilt, rebuilt_probability) = readings
    if drawn == rebuilt:
        return text + " " + _("The project's classifier reads both as a **{digit}** ({drawn:.0%} and {rebuilt:.0%} "
                              "sure): the VAE kept your digit, only its strokes changed.").format(
            digit=drawn, drawn=drawn_probability, rebuilt=rebuilt_probability)
    return text + " " + _("It **became another digit**: the project's classifier reads your drawing as a **{drawn}** "
                          "({drawn_probability:.0%} sure) but the reconstruction as a **{rebuilt}** "
                          "({rebuilt_probability:.0%} sure). The VAE can only draw what its latent space learned: "
                          "your digit landed nearer the {rebuilt}s it has seen.").format(
        drawn=drawn, drawn_probability=drawn_probability, rebuilt=rebuilt, rebuilt_probability=rebuilt_probability)


def render_vae_scatter(key: str, model, prepared: PreparedDigit | None) -> None:
    """Where the user's digits land among the encoded test digits (2-D latent spaces only)."""
    from aigc_core.studio import DatasetError

    if model.latent_dim != 2:
        st.caption(_("This VAE has a {dimensions}-D latent space; pick a 2-D one (vae-map) to see where your digit "
                     "lands among the test digits.").format(dimensions=model.latent_dim))
        return
    try:
        points, labels, axes = latent_view.encoded_test_set(key)
    except DatasetError as error:
        st.error(_("Could not load the MNIST test set: {reason}").format(reason=sources_view.one_line(error)))
        return
    st.plotly_chart(scatter_with_marks(points, labels, axes, digit_marks(model, prepared)), key="digit_scatter")
    st.caption(_("Each star is one of your digits at its posterior mean, among {count:,} encoded test digits: it "
                 "lands in the region of the digit the encoder thinks it most resembles.").format(count=len(points)))


# -- the GAN ----------------------------------------------------------------------------------
def digest(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.float32).tobytes()).hexdigest()[:16]


def inversion(key: str, model, image: np.ndarray, steps: int, label: str) -> Inversion:
    """The GAN inversion of an image, run once per (model, checkpoint, image, steps) in a session,
    with a progress bar while it runs.

    Raises:
        ValueError: from `own_digit.invert_generator` for a bad parameter.
    """
    remembered = st.session_state.setdefault(INVERSIONS_KEY, {})
    cache_key = (key, sources_view.source_version(key), digest(image), int(steps))
    if cache_key in remembered:
        return remembered[cache_key]
    bar = st.progress(0.0, text=_("Searching the GAN's latent space for {digit}…").format(digit=label))

    def report(step: int, total: int) -> None:
        if step % PROGRESS_EVERY == 0 or step == total:
            bar.progress(step / total, text=_("Searching the GAN's latent space for {digit}: step {step} / "
                                              "{total}").format(digit=label, step=step, total=total))

    result = own_digit.invert_generator(model, image, steps=steps, progress=report)
    bar.empty()
    while len(remembered) >= MAX_REMEMBERED_INVERSIONS:
        remembered.pop(next(iter(remembered)))
    remembered[cache_key] = result
    return result


def render_gan(key: str, model, prepared: PreparedDigit, steps: int) -> None:
    """The closest image the GAN can draw to the current digit, and how close it is."""
    found = inversion(key, model, prepared.image, steps, _("your digit"))
    input_column, output_column = st.columns(2)
    input_column.image(digit_png(prepared.image), width="stretch", caption=_("input"))
    output_column.image(digit_png(found.image), width="stretch",
                        caption=_("closest GAN image (distance {distance:.3f})").format(distance=found.distance))
    st.metric(_("final distance"), f"{found.distance:.3f}",
              delta=_("{change:+.3f} from the best random start").format(
                  change=found.distance - found.start_distance),
              delta_color="inverse")
    st.caption(_("A GAN has no encoder: Adam moved {starts} seeded latents for {steps} steps to shrink the pixel "
                 "difference (plus a small pull towards |z| typical of the prior); the best one is shown. What it "
                 "cannot reproduce, it never learned to draw.").format(
        starts=len(found.restart_distances), steps=found.steps))


# -- between A and B --------------------------------------------------------------------------
def render_interpolations(vae_key, vae_model, gan_key, gan_model, steps: int) -> None:
    """Frames from digit A to digit B under each model: VAE through posterior means, GAN through
    inverted latents along a great circle."""
    kept = slots()
    if not both_slots_kept():
        st.caption(_("Keep two digits (**Keep as digit A**, then draw or upload another and **Keep as digit B**) "
                     "to walk from one to the other under both models."))
        return
    if vae_model is not None:
        frames = own_digit.vae_interpolation(vae_model, kept["A"], kept["B"], NUM_FRAMES)
        st.image(image_grid_png(frames, columns=NUM_FRAMES, scale=4), width="stretch",
                 caption=_("VAE: decoded along the straight line between the two posterior means"))
    if gan_model is not None:
        start = inversion(gan_key, gan_model, kept["A"], steps, _("digit {slot}").format(slot="A"))
        end = inversion(gan_key, gan_model, kept["B"], steps, _("digit {slot}").format(slot="B"))
        frames = own_digit.gan_interpolation(gan_model, start.latent, end.latent, NUM_FRAMES)
        st.image(image_grid_png(frames, columns=NUM_FRAMES, scale=4), width="stretch",
                 caption=_("GAN: spherical path between the two inverted latents"))
