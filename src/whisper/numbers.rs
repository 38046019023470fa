//! Numbers read the way a person says them: 67 → "sixty seven", 1200 → "one thousand two hundred".

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [(u64, &str); 3] = [
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];

/// The words of `n`, without "and" (US usage): 105 → "one hundred five".
pub fn number_words(n: u64) -> Vec<&'static str> {
    if n == 0 {
        return vec![ONES[0]];
    }
    let mut words = Vec::new();
    let mut rest = n;
    for (scale, name) in SCALES {
        if rest >= scale {
            below_thousand(rest / scale, &mut words);
            words.push(name);
            rest %= scale;
        }
    }
    if rest > 0 {
        below_thousand(rest, &mut words);
    }
    words
}

/// 1..=999 (and the count of a scale, which may reach 18,446 for u64 billions: read recursively).
fn below_thousand(n: u64, words: &mut Vec<&'static str>) {
    if n >= 1000 {
        words.extend(number_words(n));
        return;
    }
    if n >= 100 {
        words.push(ONES[(n / 100) as usize]);
        words.push("hundred");
    }
    let rest = n % 100;
    if rest >= 20 {
        words.push(TENS[(rest / 10) as usize]);
        if rest % 10 > 0 {
            words.push(ONES[(rest % 10) as usize]);
        }
    } else if rest > 0 {
        words.push(ONES[rest as usize]);
    }
}

/// Each digit of `text` as a word (phone numbers, zip codes); other characters are skipped.
pub fn digit_words(text: &str) -> Vec<&'static str> {
    text.bytes()
        .filter(u8::is_ascii_digit)
        .map(|d| ONES[(d - b'0') as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(n: u64) -> String {
        number_words(n).join(" ")
    }

    #[test]
    fn reads_numbers_naturally() {
        let cases = [
            (0, "zero"),
            (7, "seven"),
            (13, "thirteen"),
            (20, "twenty"),
            (67, "sixty seven"),
            (100, "one hundred"),
            (105, "one hundred five"),
            (999, "nine hundred ninety nine"),
            (1000, "one thousand"),
            (1200, "one thousand two hundred"),
            (20_019, "twenty thousand nineteen"),
            (100_000, "one hundred thousand"),
            (
                999_999,
                "nine hundred ninety nine thousand nine hundred ninety nine",
            ),
            (1_000_000, "one million"),
            (2_000_000_001, "two billion one"),
        ];
        for (n, words) in cases {
            assert_eq!(say(n), words, "{n}");
        }
    }

    /// Every number from 0 to 1,000,000 reads to words that parse back to the same number, using
    /// only the library's number words.
    #[test]
    fn every_number_to_a_million_reads_back() {
        fn value(words: &[&str]) -> u64 {
            let (mut total, mut group) = (0u64, 0u64);
            for w in words {
                if let Some(i) = ONES.iter().position(|o| o == w) {
                    group += i as u64;
                } else if let Some(i) = TENS.iter().position(|t| t == w) {
                    group += 10 * i as u64;
                } else if *w == "hundred" {
                    group *= 100;
                } else if let Some((scale, _)) = SCALES.iter().find(|(_, s)| s == w) {
                    total += group * scale;
                    group = 0;
                } else {
                    panic!("unexpected word {w}");
                }
            }
            total + group
        }
        for n in 0..=1_000_000 {
            let words = number_words(n);
            assert_eq!(value(&words), n, "{n}: {words:?}");
            assert!(n == 0 || !words.contains(&"zero"), "{n}: {words:?}");
        }
    }

    #[test]
    fn digits_one_by_one() {
        assert_eq!(
            digit_words("+1 (305) 555-0123").join(" "),
            "one three zero five five five five zero one two three"
        );
        assert_eq!(digit_words("07030").len(), 5);
    }
}
