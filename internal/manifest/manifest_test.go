package manifest

import "testing"

func TestSplitMultiDocumentYAML(t *testing.T) {
	docs, err := Split("f.yaml", []byte("---\nkind: A\nmetadata: {name: a}\n---\n# only a comment\n---\n{\"kind\": \"B\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Kind() != "A" || docs[0].Name() != "a" || docs[1].Kind() != "B" || docs[1].Name() != "" {
		t.Fatalf("got %+v", docs)
	}
	if docs[1].Source != "f.yaml#3" {
		t.Errorf("source %s", docs[1].Source)
	}
}

func TestSplitReportsTheBrokenDocument(t *testing.T) {
	_, err := Split("f.yaml", []byte("kind: A\n---\nkind: [\n"))
	if err == nil || err.Error()[:18] != "f.yaml: document 2" {
		t.Fatalf("got %v", err)
	}
}
