package main

import "testing"

// The floor's crypto and apply run on data made here: every signature
// verifies, the ciphertext opens, the insert applies, and it takes time.
func TestDeliveryFloor(t *testing.T) {
	if d := deliveryFloor(600, 5000); d <= 0 {
		t.Fatalf("deliveryFloor = %v", d)
	}
	if d := deliveryFloor(0, 0); d <= 0 { // the smallest entry and an empty text
		t.Fatalf("deliveryFloor(0, 0) = %v", d)
	}
}
