package report

import (
	"cmp"
	"math"
	"slices"
)

// The tests behind Compare's significance, each one-sided in the direction
// of a regression. They return a p-value in [0, 1]. Counts are treated as
// independent requests: the rate test assumes Poisson arrivals, which is
// conservative for paced users (whose counts vary less than Poisson ones).

// exactLimit bounds the number of terms an exact tail sum adds up; beyond
// it the normal approximation (with continuity correction) is used, which
// at that size differs from the exact value by far less than matters here.
const exactLimit = 100_000

// lchoose is log(n choose k).
func lchoose(n, k float64) float64 {
	a, _ := math.Lgamma(n + 1)
	b, _ := math.Lgamma(k + 1)
	c, _ := math.Lgamma(n - k + 1)
	return a - b - c
}

// normalSF is P(Z > z) for a standard normal Z.
func normalSF(z float64) float64 {
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

func clamp01(p float64) float64 {
	switch {
	case math.IsNaN(p):
		return 1
	case p < 0:
		return 0
	case p > 1:
		return 1
	}
	return p
}

// binomCDF is P(X <= k) for X ~ Binomial(n, p).
func binomCDF(k, n int64, p float64) float64 {
	switch {
	case k < 0:
		return 0
	case k >= n || p <= 0:
		return 1
	case p >= 1:
		return 0
	}
	if k+1 > exactLimit {
		mean := float64(n) * p
		sd := math.Sqrt(float64(n) * p * (1 - p))
		return clamp01(1 - normalSF((float64(k)+0.5-mean)/sd))
	}
	lp, lq := math.Log(p), math.Log1p(-p)
	nf := float64(n)
	var sum float64
	for i := int64(0); i <= k; i++ {
		f := float64(i)
		sum += math.Exp(lchoose(nf, f) + f*lp + (nf-f)*lq)
	}
	return clamp01(sum)
}

// hyperSF is P(X >= x) for X the number of marked items among n drawn
// without replacement from N items of which K are marked.
func hyperSF(x, total, marked, drawn int64) float64 {
	lo := max(0, drawn+marked-total)
	hi := min(drawn, marked)
	switch {
	case x <= lo:
		return 1
	case x > hi:
		return 0
	}
	N, K, n := float64(total), float64(marked), float64(drawn)
	if hi-x+1 > exactLimit {
		mean := n * K / N
		sd := math.Sqrt(n * K / N * (N - K) / N * (N - n) / (N - 1))
		return clamp01(normalSF((float64(x) - 0.5 - mean) / sd))
	}
	den := lchoose(N, n)
	var sum float64
	for i := x; i <= hi; i++ {
		f := float64(i)
		sum += math.Exp(lchoose(K, f) + lchoose(N-K, n-f) - den)
	}
	return clamp01(sum)
}

// rateDropP tests whether the request rate fell: c1 requests in t1 seconds
// before, c2 in t2 after. Given the c1+c2 requests, under equal rates c2
// is Binomial(c1+c2, t2/(t1+t2)) (the conditional test of two Poisson
// rates); the p-value is P(X <= c2).
func rateDropP(c1 int64, t1 float64, c2 int64, t2 float64) float64 {
	if c1 < 0 || c2 < 0 || !(t1 > 0) || !(t2 > 0) || math.IsInf(t1, 0) || math.IsInf(t2, 0) {
		return 1
	}
	return binomCDF(c2, c1+c2, t2/(t1+t2))
}

// failRiseP tests whether the failure ratio rose: f1 failures in n1
// requests before, f2 in n2 after. It is Fisher's exact test, one-sided:
// given the f1+f2 failures, P(at least f2 of them fall in the after run).
func failRiseP(f1, n1, f2, n2 int64) float64 {
	if n1 <= 0 || n2 <= 0 || f1 < 0 || f2 < 0 || f1 > n1 || f2 > n2 {
		return 1
	}
	return hyperSF(f2, n1+n2, f1+f2, n2)
}

// slowerP tests whether percentile pct (0..100) of the response times is
// higher after than before, from two histograms (response time in ms ->
// count, as in Entry.ResponseTimes): Mood's test generalised to any
// quantile. A line is drawn at the pct-th percentile of both runs'
// requests together; given how many requests lie above it, under equal
// distributions they are split between the runs as in a draw without
// replacement, so Fisher's exact test on (run, above the line) gives the
// p-value. The line is drawn from both runs together, so the test stays
// exact whatever the distributions are. ok is false when either histogram
// is empty; p is 1 when no request lies above the line (then nothing could
// be significant).
func slowerP(before, after Counts, pct float64) (p float64, ok bool) {
	type bin struct{ b, a int64 }
	bins := map[int64]*bin{}
	var n1, n2 int64
	for k, c := range before {
		if c <= 0 {
			continue
		}
		if bins[k] == nil {
			bins[k] = &bin{}
		}
		bins[k].b += c
		n1 += c
	}
	for k, c := range after {
		if c <= 0 {
			continue
		}
		if bins[k] == nil {
			bins[k] = &bin{}
		}
		bins[k].a += c
		n2 += c
	}
	if n1 == 0 || n2 == 0 {
		return 1, false
	}
	keys := make([]int64, 0, len(bins))
	for k := range bins {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	// q is the bucket of the rank-th request of both runs together; the
	// requests above the line are those in buckets above q, or from q on,
	// whichever share is closer to 1-pct/100 (buckets hold ties).
	total := n1 + n2
	rank := max(1, int64(math.Ceil(pct/100*float64(total))))
	var cum int64
	qi := len(keys) - 1
	for i, k := range keys {
		cum += bins[k].a + bins[k].b
		if cum >= rank {
			qi = i
			break
		}
	}
	from := qi + 1 // strictly above q
	var strict, incl int64
	for _, k := range keys[qi+1:] {
		strict += bins[k].a + bins[k].b
	}
	incl = strict + bins[keys[qi]].a + bins[keys[qi]].b
	target := float64(total) * (1 - pct/100)
	if incl < total && math.Abs(float64(incl)-target) <= math.Abs(float64(strict)-target) {
		from = qi
	}
	var aboveB, aboveA int64
	for _, k := range keys[from:] {
		aboveB += bins[k].b
		aboveA += bins[k].a
	}
	if aboveA+aboveB == 0 {
		return 1, true
	}
	return hyperSF(aboveA, n1+n2, aboveA+aboveB, n2), true
}

// holm adjusts p-values for the number of tests made (Holm's step-down
// method), so that the chance of calling any one of them significant when
// nothing changed stays at alpha. It returns the adjusted values in the
// order given.
func holm(ps []float64) []float64 {
	idx := make([]int, len(ps))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ps[a], ps[b]) })
	out := make([]float64, len(ps))
	m := float64(len(ps))
	var run float64
	for rank, i := range idx {
		adj := min(1, ps[i]*(m-float64(rank)))
		run = max(run, adj)
		out[i] = run
	}
	return out
}
