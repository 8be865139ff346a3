// The service's own vocabularies (the filter language in service/event/), with labels.

export const VIOLATION_TYPES = [
  ["airstrike", "Airstrike"],
  ["shelling", "Shelling"],
  ["barrel_bomb", "Barrel bomb"],
  ["missile", "Missile"],
  ["small_arms", "Small arms"],
  ["sniper", "Sniper"],
  ["ground_assault", "Ground assault"],
  ["ied", "IED"],
  ["chemical", "Chemical"],
  ["siege", "Siege"],
  ["detention", "Detention"],
  ["displacement", "Displacement"],
  ["other", "Other"],
];

export const CEASEFIRE_STATUSES = [
  ["violation", "Violation"],
  ["excluded", "Excluded party"],
  ["not_party", "Not a party"],
  ["outside_period", "Outside the ceasefire"],
];

// Bands of an incident's confidence (sources' grades, independent sources and keys: README,
// Confidence).
export const CONFIDENCE_BANDS = [
  ["high", "High"],
  ["medium", "Medium"],
  ["low", "Low"],
];

export const REVIEW_STATUSES = [
  ["unverified", "Unverified"],
  ["verified", "Verified"],
  ["disputed", "Disputed"],
  ["rejected", "Rejected"],
];

/** The label of `value` in a vocabulary, or the value itself. */
export function label(vocabulary, value) {
  return vocabulary.find(([code]) => code === value)?.[1] ?? value;
}
