package chain

import (
	"bytes"
	"reflect"
	"testing"
)

// fillAll sets every exported field reachable from v (slices of two
// elements, pointers allocated, numbers and bytes non-zero), so that a
// field clone forgets to copy shows up below.
func fillAll(v reflect.Value, seed *byte) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem(), seed)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i), seed)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fillAll(v.Index(i), seed)
		}
	case reflect.Array:
		for i := range v.Len() {
			fillAll(v.Index(i), seed)
		}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		*seed++
		v.SetUint(uint64(*seed))
	case reflect.Int64:
		*seed++
		v.SetInt(int64(*seed))
	case reflect.String:
		*seed++
		v.SetString(string(rune('a' + *seed%26)))
	}
}

// mutateAll changes every number and byte reachable from v through
// slices and pointers: what a block's application may do to its state.
func mutateAll(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			mutateAll(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				mutateAll(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			mutateAll(v.Index(i))
		}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() ^ 0xff)
	case reflect.Int64:
		v.SetInt(v.Int() ^ 0xff)
	case reflect.String:
		v.SetString(v.String() + "!")
	}
}

// TestCloneIsADeepCopy: a clone encodes to the same bytes as its original
// (nil and empty slices included), and changing anything in the clone
// leaves the original as it was.
func TestCloneIsADeepCopy(t *testing.T) {
	var seed byte
	st := &State{}
	fillAll(reflect.ValueOf(st).Elem(), &seed)
	st.Phase = PhaseOpen
	want := st.Encode()
	c := st.clone()
	if !bytes.Equal(c.Encode(), want) {
		t.Fatal("the clone does not encode like the original")
	}
	mutateAll(reflect.ValueOf(c).Elem())
	if !bytes.Equal(st.Encode(), want) {
		t.Fatal("changing the clone changed the original: clone shares memory")
	}
	// nil and empty slices stay what they were (the encoding tells them apart).
	empty := &State{Responded: []uint64{}, Turnout: nil}
	if !bytes.Equal(empty.clone().Encode(), empty.Encode()) {
		t.Fatal("the clone of nil and empty slices encodes differently")
	}
}
