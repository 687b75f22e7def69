package presencebench

import "testing"

func TestRun(t *testing.T) {
	r, err := Run()
	if err != nil {
		t.Fatal(err)
	}
	if r.TopicMessageBytes <= 0 || r.TopicMessageBytes > 512 || r.SelectionFrameBytes <= 0 ||
		r.PresenceFrame15 <= r.PresenceFrame1 || r.SealUs <= 0 || r.ReceiveUs <= 0 {
		t.Fatalf("implausible figures: %+v", r)
	}
}
