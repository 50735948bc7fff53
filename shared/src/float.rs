//! `str::parse::<f64>` written out (README "Size"): the same grammar and the same correctly
//! rounded value for every input, by exact decimal arithmetic (the "simple decimal
//! conversion" of Go's `strconv`) instead of core's Eisel-Lemire path, whose 10 KB table of
//! powers of five does not compress. Slow for long inputs, which is fine for the few
//! numbers the edge reads from text (coordinates in a query, `SLA_TARGET_PCT`).

/// A decimal `0.d₁d₂… × 10^dp`, digits 0..=9 without trailing zeros.
struct Decimal {
    d: Vec<u8>,
    dp: i64,
}

/// Bits that one shift step may move (a digit times 2^SHIFT fits a u64).
const MAX_SHIFT: u32 = 60;
/// Powers of two for scaling by `dp`: `POWTAB[n]` bits move a value of `n` decimal digits.
const POWTAB: [u32; 9] = [1, 3, 6, 9, 13, 16, 19, 23, 26];

impl Decimal {
    fn trim(&mut self) {
        while self.d.last() == Some(&0) {
            self.d.pop();
        }
        if self.d.is_empty() {
            self.dp = 0;
        }
    }

    /// × 2^k, k ≤ MAX_SHIFT.
    fn left_shift(&mut self, k: u32) {
        let mut out = Vec::with_capacity(self.d.len() + 20);
        let mut carry = 0u64;
        for &c in self.d.iter().rev() {
            let v = (u64::from(c) << k) + carry;
            out.push((v % 10) as u8);
            carry = v / 10;
        }
        while carry > 0 {
            out.push((carry % 10) as u8);
            carry /= 10;
        }
        out.reverse();
        self.dp += out.len() as i64 - self.d.len() as i64;
        self.d = out;
        self.trim();
    }

    /// ÷ 2^k, k ≤ MAX_SHIFT, exactly (the digits grow).
    fn right_shift(&mut self, k: u32) {
        let (mut r, mut n) = (0usize, 0u64);
        // Enough leading digits for a first non-zero quotient digit.
        while n >> k == 0 {
            if r < self.d.len() {
                n = n * 10 + u64::from(self.d[r]);
            } else if n == 0 {
                self.d.clear();
                self.dp = 0;
                return;
            } else {
                n *= 10;
            }
            r += 1;
        }
        self.dp -= r as i64 - 1;
        let mask = (1u64 << k) - 1;
        let mut out = Vec::with_capacity(self.d.len() + k as usize);
        while r < self.d.len() {
            out.push((n >> k) as u8);
            n = (n & mask) * 10 + u64::from(self.d[r]);
            r += 1;
        }
        while n > 0 {
            out.push((n >> k) as u8);
            n = (n & mask) * 10;
        }
        self.d = out;
        self.trim();
    }

    fn shift(&mut self, mut k: i64) {
        while k > 0 {
            let s = k.min(i64::from(MAX_SHIFT));
            self.left_shift(s as u32);
            k -= s;
        }
        while k < 0 {
            let s = (-k).min(i64::from(MAX_SHIFT));
            self.right_shift(s as u32);
            k += s;
        }
    }

    /// The integer part, rounded half to even (the value is below 2^54 here).
    fn rounded_integer(&self) -> u64 {
        if self.dp < 0 {
            return 0; // below 0.1
        }
        let dp = self.dp as usize;
        let mut n = 0u64;
        for i in 0..dp {
            n = n * 10 + u64::from(self.d.get(i).copied().unwrap_or(0));
        }
        let up = match self.d.get(dp) {
            None => false,
            Some(5) if dp + 1 == self.d.len() => dp > 0 && self.d[dp - 1] % 2 == 1,
            Some(&c) => c >= 5,
        };
        n + u64::from(up)
    }

    /// The nearest f64's bits (sign apart), as IEEE 754 rounds: to nearest, ties to even.
    fn into_bits(mut self) -> u64 {
        const MANT_BITS: i64 = 52;
        const BIAS: i64 = -1023;
        const INF: u64 = 0x7ff << 52;
        if self.d.is_empty() || self.dp < -330 {
            return 0;
        }
        if self.dp > 310 {
            return INF;
        }
        // Scale into [0.5, 1), counting the binary exponent.
        let mut exp = 0i64;
        while self.dp > 0 {
            let n = POWTAB.get(self.dp as usize).copied().unwrap_or(27);
            self.shift(-i64::from(n));
            exp += i64::from(n);
        }
        while self.dp < 0 || (self.dp == 0 && self.d.first().is_some_and(|&c| c < 5)) {
            let n = POWTAB.get((-self.dp) as usize).copied().unwrap_or(27);
            self.shift(i64::from(n));
            exp -= i64::from(n);
        }
        exp -= 1; // [0.5, 1) → [1, 2)
        if exp < BIAS + 1 {
            let n = BIAS + 1 - exp;
            self.shift(-n);
            exp += n;
        }
        if exp - BIAS >= 0x7ff {
            return INF;
        }
        self.shift(1 + MANT_BITS);
        let mut mant = self.rounded_integer();
        if mant == 2 << MANT_BITS {
            mant >>= 1;
            exp += 1;
            if exp - BIAS >= 0x7ff {
                return INF;
            }
        }
        if mant & (1 << MANT_BITS) == 0 {
            exp = BIAS; // subnormal
        }
        (mant & ((1 << MANT_BITS) - 1)) | (((exp - BIAS) as u64 & 0x7ff) << MANT_BITS)
    }
}

/// Exactly `s.parse::<f64>().ok()`.
pub fn parse_f64(s: &str) -> Option<f64> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let sign = |v: f64| if negative { -v } else { v };
    for (word, v) in [("inf", f64::INFINITY), ("infinity", f64::INFINITY), ("nan", f64::NAN)] {
        if body.eq_ignore_ascii_case(word) {
            return Some(sign(v));
        }
    }
    let b = body.as_bytes();
    let mut i = 0;
    let mut dec = Decimal { d: Vec::new(), dp: 0 };
    let mut digits = 0; // mantissa digits seen, zeros included
    let mut seen_point = false;
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                digits += 1;
                if c == b'0' && dec.d.is_empty() {
                    // A leading zero moves the point only after it.
                    if seen_point {
                        dec.dp -= 1;
                    }
                } else {
                    dec.d.push(c - b'0');
                    if !seen_point {
                        dec.dp += 1;
                    }
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() {
        if !matches!(b[i], b'e' | b'E') {
            return None;
        }
        i += 1;
        let neg_exp = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e = 0i64;
        while i < b.len() && b[i].is_ascii_digit() {
            // Capped: an exponent past 10^9 outweighs any mantissa a request can carry.
            e = (e * 10 + i64::from(b[i] - b'0')).min(1_000_000_000);
            i += 1;
        }
        if i == start || i < b.len() {
            return None;
        }
        dec.dp += if neg_exp { -e } else { e };
    }
    dec.trim();
    Some(sign(f64::from_bits(dec.into_bits())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same(s: &str) {
        let theirs = s.parse::<f64>().ok();
        let ours = parse_f64(s);
        match (ours, theirs) {
            (Some(a), Some(b)) if a.is_nan() && b.is_nan() => {
                assert_eq!(a.is_sign_negative(), b.is_sign_negative(), "{s:?}")
            }
            (a, b) => assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "{s:?}: {a:?} vs {b:?}"),
        }
    }

    #[test]
    fn as_the_standard_library_reads_them() {
        for s in [
            "0",
            "-0",
            "+0",
            "0.0",
            ".5",
            "5.",
            "-.5",
            "+5.e3",
            "1e5",
            "1E+5",
            "1e-5",
            "99.5",
            "99.95",
            "100",
            "100.01",
            "1e2",
            "59.9139",
            "-33.8688",
            "139.6503",
            "180",
            "180.0000000000000000001",
            "90.00000000000001",
            "0.0000005",
            "0.00000050000000000000001",
            "59.9139005",
            "1.7976931348623157e308",
            "1.7976931348623159e308",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1e-400",
            "1e400",
            "9007199254740993",
            "9007199254740995",
            "0.1",
            "0.3",
            "123456789012345678901234567890",
            "1e",
            "1e+",
            "e5",
            ".",
            "+",
            "-",
            "",
            " 1",
            "1 ",
            "1_0",
            "0x10",
            "1.2.3",
            "1e5.5",
            "inf",
            "-Infinity",
            "INF",
            "NaN",
            "-nan",
            "infin",
            "nan1",
            "1e-99999999999999999999",
            "1e99999999999999999999",
            "0e99999999999999999999",
            "00000.00000",
            "000123.4500000",
        ] {
            same(s);
        }
    }

    proptest! {
        #[test]
        fn any_decimal(int in "[0-9]{0,25}", frac in "[0-9]{0,25}", point in any::<bool>(), exp in -340i32..340, with_exp in any::<bool>(), neg in any::<bool>()) {
            let mut s = String::new();
            if neg { s.push('-'); }
            s.push_str(&int);
            if point { s.push('.'); s.push_str(&frac); }
            if with_exp { s.push_str(&format!("e{exp}")); }
            same(&s);
        }

        #[test]
        fn any_double_printed_any_way(bits in any::<u64>(), digits in 1usize..20) {
            let v = f64::from_bits(bits);
            same(&format!("{v}"));
            same(&format!("{v:e}"));
            same(&format!("{v:.*e}", digits));
            same(&format!("{v:.800e}")); // exactly the double's value
        }

        /// Exactly halfway between two doubles: ties go to the even mantissa.
        #[test]
        fn ties(k in 0u64..(1 << 52), j in 1u32..70, n in 1u32..=30) {
            let odd = 2 * ((1u128 << 52) + u128::from(k)) + 1; // 54 bits: a midpoint
            same(&(odd << (j - 1)).to_string());
            let digits = (odd * 5u128.pow(n)).to_string(); // odd / 2^n = odd * 5^n / 10^n
            let (int, frac) = digits.split_at(digits.len() - n as usize);
            same(&format!("{int}.{frac}"));
            same(&format!("{int}.{frac}1"));
            same(&format!("{int}.{frac}e-300"));
        }

        #[test]
        fn any_text(s in "[-+0-9.eEinfatyINFATY]{0,12}") {
            same(&s);
        }

        #[test]
        fn coordinates(micro in -180_000_000i64..=180_000_000, extra in "[0-9]{0,12}") {
            let s = format!("{}.{:06}{extra}", micro / 1_000_000, (micro % 1_000_000).abs());
            same(&s);
            same(&format!("{s}5"));
        }
    }
}
