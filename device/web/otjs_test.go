package web_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/clone2clone/c2c/device/web/webtest"
)

// otCheck exercises the page's OT (assets/ot.js) against its laws on
// random texts with characters beyond the BMP: transform satisfies TP1,
// compose agrees with applying in turn, diff (with and without a caret
// hint) turns a into b, and the caret hint places an insert where it was
// typed. It returns "ok" or what failed.
const otCheck = `(() => {
  let seed = 18;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const alpha = ["a", "b", "é", "𝟐", "😀", "x"];
  const rtext = (n) => { let s = ""; for (let i = 0; i < n; i++) s += alpha[rnd(alpha.length)]; return s; };
  const rop = (s) => {
    const n = OT.cpLen(s), b = new OT.Builder();
    let i = 0;
    while (i < n) {
      const k = rnd(4), l = 1 + rnd(Math.min(3, n - i));
      if (k < 2) { b.retain(l); i += l; } else if (k < 3) { b.delete(l); i += l; } else b.insert(rtext(2));
    }
    if (rnd(3) === 0) b.insert(rtext(1));
    return b.ops;
  };
  for (let t = 0; t < 5000; t++) {
    const s = rtext(rnd(9)), a = rop(s), b = rop(s);
    const [ap, bp] = OT.transform(a, b);
    if (OT.apply(bp, OT.apply(a, s)) !== OT.apply(ap, OT.apply(b, s))) return "TP1 " + JSON.stringify([s, a, b]);
    const sa = OT.apply(a, s), c = rop(sa);
    if (OT.apply(OT.compose(a, c), s) !== OT.apply(c, sa)) return "compose " + JSON.stringify([s, a, c]);
    const s2 = rtext(rnd(9)), hint = rnd(s2.length + 2) - 1;
    if (OT.apply(OT.diff(s, s2), s) !== s2 || OT.apply(OT.diff(s, s2, hint), s) !== s2) return "diff " + JSON.stringify([s, s2, hint]);
  }
  if (JSON.stringify(OT.diff("aa", "aaa", 2)) !== JSON.stringify([1, "a", 1])) return "hint";
  if (OT.cpToU16("a𝟐b", 2) !== 3 || OT.u16ToCp("a𝟐b", 3) !== 2 || OT.cpLen("a𝟐b") !== 3) return "units";
  return "ok";
})()`

func TestPageOT(t *testing.T) {
	bin := webtest.Chromium(t)
	src, err := os.ReadFile("assets/ot.js")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := webtest.NewBrowser(t, ctx, bin, "ot")
	b.Run("blank page", chromedp.Navigate("about:blank"))
	got, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](string(src)+";\n"+otCheck))
	if err != nil {
		t.Fatal(err)
	}
	if got != "ok" {
		t.Fatalf("ot.js: %s", got)
	}
}
