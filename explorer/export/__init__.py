"""Taking it away: what the app shows as files for a slide or a student's own computer.

Every function in these modules is pure and deterministic (the same arguments give the same
bytes) and Streamlit-free; the pages offer the results as downloads. One module per idea:

- ``text`` — text drawn with Pillow's built-in font (no font file is fetched from anywhere),
  and numbers written in a grid's cells.
- ``slides`` — ``result_slide_png``: a convolution result enlarged for a slide (whole pixels,
  so each cell stays a crisp square), with its colour bar and the numbers the bar's ends stand
  for; ``montage_png``: a network stage's feature maps (``stage_pictures.stage_montage``) the
  same way, with the stage's colour bar.
- ``titles`` — what a slide says it shows: ``convolution_title`` (the operation, the kernel,
  padding with its mode, stride, dilation) and ``montage_title`` (the stage, the image, the
  weights).
- ``animation`` — ``animation_gif``: the window sliding over the padded input while the output
  fills in, cell by cell, as an animated GIF (``animation_frames`` are its frames).
- ``code`` — ``playground_code``: a short NumPy + PyTorch script that recomputes the
  playground's result exactly, with the textbook double loop and ``F.conv2d`` side by side,
  and checks they agree; ``code_input_png`` is the picture file that script reads (None when
  it writes the numbers inline).

Colours are ``render.colourise``'s, so a slide shows exactly the colours of the page.
"""
