//! NANP area codes → US state / Canadian province, for the derived `area_code`, `state` and
//! `country` tokens.
//!
//! The table covers the geographic area codes in service (and announced overlays) for the 50
//! states, DC, the US territories on the NANP and the Canadian provinces and territories. Codes
//! shared by several regions are attributed to the first one named in the comment next to them.
//! Lookups go through a 1,000-entry array built once, so they are O(1).

use std::sync::OnceLock;

use serde::Serialize;

/// The NANP country an area code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Country {
    US,
    CA,
}

impl Country {
    pub fn code(self) -> &'static str {
        match self {
            Country::US => "US",
            Country::CA => "CA",
        }
    }
}

/// Where an area code is: two-letter state/province code and country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Region {
    pub code: &'static str,
    pub country: Country,
}

use Country::{CA, US};

/// (region, country, area codes).
const AREAS: &[(&str, Country, &[u16])] = &[
    ("AL", US, &[205, 251, 256, 334, 659, 938]),
    ("AK", US, &[907]),
    ("AZ", US, &[480, 520, 602, 623, 928]),
    ("AR", US, &[327, 479, 501, 870]),
    (
        "CA",
        US,
        &[
            209, 213, 279, 310, 323, 341, 350, 369, 408, 415, 424, 442, 510, 530, 559, 562, 619,
            626, 628, 650, 657, 661, 669, 707, 714, 747, 760, 805, 818, 820, 831, 840, 858, 909,
            916, 925, 949, 951,
        ],
    ),
    ("CO", US, &[303, 719, 720, 970, 983]),
    ("CT", US, &[203, 475, 860, 959]),
    ("DE", US, &[302]),
    ("DC", US, &[202, 771]),
    (
        "FL",
        US,
        &[
            239, 305, 321, 324, 352, 386, 407, 448, 561, 645, 656, 689, 727, 728, 754, 772, 786,
            813, 850, 863, 904, 941, 954,
        ],
    ),
    (
        "GA",
        US,
        &[229, 404, 470, 478, 678, 706, 762, 770, 912, 943],
    ),
    ("HI", US, &[808]),
    ("ID", US, &[208, 986]),
    (
        "IL",
        US,
        &[
            217, 224, 309, 312, 331, 447, 464, 618, 630, 708, 730, 773, 779, 815, 847, 861, 872,
        ],
    ),
    ("IN", US, &[219, 260, 317, 463, 574, 765, 812, 930]),
    ("IA", US, &[319, 515, 563, 641, 712]),
    ("KS", US, &[316, 620, 785, 913]),
    ("KY", US, &[270, 364, 502, 606, 859]),
    ("LA", US, &[225, 318, 337, 504, 985]),
    ("ME", US, &[207]),
    ("MD", US, &[227, 240, 301, 410, 443, 667]),
    ("MA", US, &[339, 351, 413, 508, 617, 774, 781, 857, 978]),
    (
        "MI",
        US,
        &[
            231, 248, 269, 313, 517, 586, 616, 679, 734, 810, 906, 947, 989,
        ],
    ),
    ("MN", US, &[218, 320, 507, 612, 651, 763, 924, 952]),
    ("MS", US, &[228, 471, 601, 662, 769]),
    ("MO", US, &[235, 314, 417, 557, 573, 636, 660, 816, 975]),
    ("MT", US, &[406]),
    ("NE", US, &[308, 402, 531]),
    ("NV", US, &[702, 725, 775]),
    ("NH", US, &[603]),
    (
        "NJ",
        US,
        &[201, 551, 609, 640, 732, 848, 856, 862, 908, 973],
    ),
    ("NM", US, &[505, 575]),
    (
        "NY",
        US,
        &[
            212, 315, 329, 332, 347, 363, 516, 518, 585, 607, 624, 631, 646, 680, 716, 718, 838,
            845, 914, 917, 929, 934,
        ],
    ),
    (
        "NC",
        US,
        &[252, 336, 472, 704, 743, 828, 910, 919, 980, 984],
    ),
    ("ND", US, &[701]),
    (
        "OH",
        US,
        &[
            216, 220, 234, 283, 326, 330, 380, 419, 436, 440, 513, 567, 614, 740, 937,
        ],
    ),
    ("OK", US, &[405, 539, 572, 580, 918]),
    ("OR", US, &[458, 503, 541, 971]),
    (
        "PA",
        US,
        &[
            215, 223, 267, 272, 412, 445, 484, 570, 582, 610, 717, 724, 814, 835, 878,
        ],
    ),
    ("RI", US, &[401]),
    ("SC", US, &[803, 821, 839, 843, 854, 864]),
    ("SD", US, &[605]),
    ("TN", US, &[423, 615, 629, 731, 865, 901, 931]),
    (
        "TX",
        US,
        &[
            210, 214, 254, 281, 325, 346, 361, 409, 430, 432, 469, 512, 682, 713, 726, 737, 806,
            817, 830, 832, 903, 915, 936, 940, 945, 956, 972, 979,
        ],
    ),
    ("UT", US, &[385, 435, 801]),
    ("VT", US, &[802]),
    (
        "VA",
        US,
        &[276, 434, 540, 571, 686, 703, 757, 804, 826, 948],
    ),
    ("WA", US, &[206, 253, 360, 425, 509, 564]),
    ("WV", US, &[304, 681]),
    ("WI", US, &[262, 274, 353, 414, 534, 608, 715, 920]),
    ("WY", US, &[307]),
    ("PR", US, &[787, 939]),
    ("VI", US, &[340]),
    ("GU", US, &[671]),
    ("AS", US, &[684]),
    ("MP", US, &[670]),
    ("AB", CA, &[368, 403, 587, 780, 825]),
    ("BC", CA, &[236, 250, 257, 604, 672, 778]),
    ("MB", CA, &[204, 431, 584]),
    ("NB", CA, &[428, 506]),
    ("NL", CA, &[709, 879]),
    // 902 and 782 serve Nova Scotia and Prince Edward Island.
    ("NS", CA, &[782, 902]),
    (
        "ON",
        CA,
        &[
            226, 249, 289, 343, 365, 382, 416, 437, 519, 548, 613, 647, 683, 705, 742, 753, 807,
            905, 942,
        ],
    ),
    (
        "QC",
        CA,
        &[263, 354, 367, 418, 438, 450, 468, 514, 579, 581, 819, 873],
    ),
    ("SK", CA, &[306, 474, 639]),
    // 867 serves Yukon, the Northwest Territories and Nunavut.
    ("YT", CA, &[867]),
];

fn table() -> &'static [Option<Region>; 1000] {
    static TABLE: OnceLock<Box<[Option<Region>; 1000]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([None; 1000]);
        for &(code, country, codes) in AREAS {
            for &ac in codes {
                t[usize::from(ac)] = Some(Region { code, country });
            }
        }
        t
    })
}

/// The region of a three-digit NANP area code, if it is a known geographic code.
pub fn region_of(area_code: u16) -> Option<Region> {
    table().get(usize::from(area_code)).copied().flatten()
}

/// The NANP area code of a caller number given as digits (`13105551234`, `3105551234`,
/// `+1 (310) 555-1234`): the three digits after the country code `1`. `None` when the number is not a
/// 10-digit NANP number (with or without the leading 1) or the area code is not a valid NPA.
pub fn nanp_area_code(number: &str) -> Option<u16> {
    let mut digits = [0u8; 11];
    let mut n = 0usize;
    for b in number.bytes() {
        if b.is_ascii_digit() {
            if n == digits.len() {
                return None;
            }
            digits[n] = b - b'0';
            n += 1;
        }
    }
    let npa = match n {
        10 => &digits[0..3],
        11 if digits[0] == 1 => &digits[1..4],
        _ => return None,
    };
    // NPA rules: first digit 2–9.
    if npa[0] < 2 {
        return None;
    }
    Some(u16::from(npa[0]) * 100 + u16::from(npa[1]) * 10 + u16::from(npa[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_area_code_is_listed_twice() {
        let mut seen = std::collections::HashMap::new();
        for &(code, _, codes) in AREAS {
            for &ac in codes {
                assert!((200..1000).contains(&ac), "{ac}");
                if let Some(prev) = seen.insert(ac, code) {
                    panic!("{ac} listed for {prev} and {code}");
                }
            }
        }
        assert!(seen.len() > 400, "only {} codes", seen.len());
    }

    #[test]
    fn looks_up_states_and_provinces() {
        assert_eq!(region_of(310).unwrap().code, "CA");
        assert_eq!(region_of(310).unwrap().country, Country::US);
        assert_eq!(region_of(416).unwrap().code, "ON");
        assert_eq!(region_of(416).unwrap().country, Country::CA);
        assert_eq!(region_of(212).unwrap().code, "NY");
        assert_eq!(region_of(305).unwrap().code, "FL");
        assert_eq!(region_of(514).unwrap().code, "QC");
        assert_eq!(region_of(800), None, "toll-free is not geographic");
        assert_eq!(region_of(999), None);
    }

    #[test]
    fn extracts_area_codes() {
        assert_eq!(nanp_area_code("+1 (310) 555-1234"), Some(310));
        assert_eq!(nanp_area_code("3105551234"), Some(310));
        assert_eq!(nanp_area_code("13105551234"), Some(310));
        assert_eq!(nanp_area_code("23105551234"), None);
        assert_eq!(nanp_area_code("555-1234"), None);
        assert_eq!(nanp_area_code("1105551234"), None);
        assert_eq!(nanp_area_code("4420712345678"), None);
        assert_eq!(nanp_area_code(""), None);
    }
}
