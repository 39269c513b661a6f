package ml

const rngVector = 0x353bedb789974a9c
