#!/usr/bin/python3
"""Proves that the evaluation report renders: parses report.html as XML
(five SVG plots, each with drawn data), renders it in headless Chromium
(Debian's chromium) to a PNG screenshot, and checks the pixels: the page is
not blank, and the plot colours (model curve green, fraud red, legitimate
blue) are on screen.  Run by tests/train/tests.cmake after test_report.c
wrote the page (ctest fixture "train_report").

usage: check_report.py REPORT_HTML
"""
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from PIL import Image

SVG = "{http://www.w3.org/2000/svg}"
COLOURS = {"model curve": (0x2c, 0xa0, 0x2c), "fraud": (0xd6, 0x27, 0x28),
           "legitimate": (0x1f, 0x77, 0xb4)}


def check_xml(path):
    root = ET.parse(path).getroot()
    svgs = list(root.iter(SVG + "svg"))
    if len(svgs) != 5:
        sys.exit("expected 5 SVG plots, found %d" % len(svgs))
    for svg in svgs:
        drawn = sum(len(p.get("points", "").split())
                    for p in svg.iter(SVG + "polyline"))
        drawn += len(list(svg.iter(SVG + "circle")))
        drawn += len(list(svg.iter(SVG + "rect")))
        title = svg.find(SVG + "title").text
        if drawn < 4:
            sys.exit("plot %r draws nothing" % title)


def near(a, b, tol=40):
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def screenshot(path):
    chromium = shutil.which("chromium")
    if not chromium:
        sys.exit("chromium is not installed (scripts/deps/test.txt)")
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "report.png")
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--hide-scrollbars",
               "--user-data-dir=" + os.path.join(tmp, "profile"),
               "--window-size=1200,2600", "--screenshot=" + png,
               "file://" + os.path.abspath(path)]
        subprocess.run(cmd, check=True, timeout=120, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        img = Image.open(png).convert("RGB")
        img.load()
    return img


def main():
    path = sys.argv[1]
    check_xml(path)
    img = screenshot(path)
    w, h = img.size
    if (w, h) != (1200, 2600):
        sys.exit("screenshot is %dx%d" % (w, h))
    small = img.resize((w // 2, h // 2))
    pixels = list(small.getdata())
    nonwhite = sum(1 for p in pixels if sum(p) < 720)
    if nonwhite < 0.02 * len(pixels):
        sys.exit("the page looks blank (%d non-white pixels)" % nonwhite)
    for name, rgb in COLOURS.items():
        n = sum(1 for p in pixels if near(p, rgb))
        if n < 50:
            sys.exit("the %s colour is not on screen (%d pixels)" % (name, n))
    print("ok: report renders, %d non-white pixels of %d" % (nonwhite,
                                                             len(pixels)))


if __name__ == "__main__":
    main()
