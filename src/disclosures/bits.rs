//! An export's clients as bits: each client the ledger has met has a dense number within its
//! organisation, and an export keeps, per block of [`BLOCK_BITS`] numbers it touched, one bit
//! per number. A full export of 100,000 clients is 25 blocks of 512 bytes.

use std::collections::BTreeMap;

/// Subject numbers per block.
pub const BLOCK_BITS: u32 = 4096;

/// The blocks that hold `numbers`, each with its bits (a set bit: that number is in).
pub fn blocks(numbers: impl IntoIterator<Item = u32>) -> BTreeMap<u32, Vec<u8>> {
    let mut blocks: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    for number in numbers {
        let bits = blocks
            .entry(number / BLOCK_BITS)
            .or_insert_with(|| vec![0; (BLOCK_BITS / 8) as usize]);
        let offset = number % BLOCK_BITS;
        bits[(offset / 8) as usize] |= 1 << (offset % 8);
    }
    blocks
}

/// The block that holds `number`.
pub fn block_of(number: u32) -> u32 {
    number / BLOCK_BITS
}

/// Whether `bits` (of `number`'s block) has `number`; bits too short to say do not.
pub fn contains(bits: &[u8], number: u32) -> bool {
    let offset = number % BLOCK_BITS;
    bits.get((offset / 8) as usize)
        .is_some_and(|byte| byte & (1 << (offset % 8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_is_found_in_its_block_and_no_other_is() {
        let numbers = [0, 7, 8, 4095, 4096, 10_000, 99_999];
        let blocks = blocks(numbers);
        assert_eq!(blocks.keys().copied().collect::<Vec<_>>(), [0, 1, 2, 24]);
        for number in 0..100_000 {
            let found = blocks
                .get(&block_of(number))
                .is_some_and(|bits| contains(bits, number));
            assert_eq!(found, numbers.contains(&number), "{number}");
        }
    }

    #[test]
    fn a_block_is_512_bytes_and_short_bits_hold_nothing() {
        assert!(blocks([1]).values().all(|bits| bits.len() == 512));
        assert!(!contains(&[], 5));
    }
}
