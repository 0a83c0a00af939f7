package cloud

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// Cloud Asset Inventory gives each resource as a google.protobuf.Struct: the resource's JSON
// (proto3 JSON mapping) already parsed. Decoding it by printing that Struct as JSON and
// parsing the JSON again into the Cloud Run message cost most of an organization's
// inventory (a CPU profile of 5,000 workloads: 55% of runnet's time, and most of its
// allocations). structToMessage walks the Struct into the message directly, field by field,
// with protojson's rules: fields by JSON or proto name, unknown ones ignored, enums by name
// or number, 64-bit integers as numbers or strings, bytes as base64, null as unset. Only the
// well-known types (timestamps, durations...: a few small values per resource) go through
// protojson, one value at a time.

// structInto decodes a versioned resource into m, ignoring fields m lacks.
func structInto(vr interface{ GetResource() *structpb.Struct }, m proto.Message) error {
	s := vr.GetResource()
	if s == nil {
		return nil
	}
	return structToMessage(s, m.ProtoReflect())
}

func structToMessage(s *structpb.Struct, m protoreflect.Message) error {
	md := m.Descriptor()
	if isWellKnown(md) {
		return wellKnownFrom(structpb.NewStructValue(s), m)
	}
	fields := md.Fields()
	for key, v := range s.GetFields() {
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil {
			continue // unknown: ignored, as protojson's DiscardUnknown
		}
		if _, null := v.GetKind().(*structpb.Value_NullValue); null && !isValueMessage(fd) {
			continue
		}
		if err := setField(m, fd, v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

func isWellKnown(md protoreflect.MessageDescriptor) bool {
	return strings.HasPrefix(string(md.FullName()), "google.protobuf.")
}

func isValueMessage(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value"
}

// wellKnownFrom decodes v into a well-known type: a timestamp or a duration (most of them in
// a Cloud Run resource) directly, the others through protojson (their JSON forms are special).
func wellKnownFrom(v *structpb.Value, m protoreflect.Message) error {
	if sv, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		switch m.Descriptor().FullName() {
		case "google.protobuf.Timestamp":
			t, err := time.Parse(time.RFC3339Nano, sv.StringValue)
			if err != nil {
				return fmt.Errorf("timestamp %q: %w", sv.StringValue, err)
			}
			return setSecondsNanos(m, t.Unix(), int32(t.Nanosecond()))
		case "google.protobuf.Duration":
			secs, nanos, ok := parseDuration(sv.StringValue)
			if !ok {
				return fmt.Errorf("duration %q: want seconds with an s suffix, such as 1.5s", sv.StringValue)
			}
			return setSecondsNanos(m, secs, nanos)
		}
	}
	b, err := protojson.Marshal(v)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m.Interface())
}

func setSecondsNanos(m protoreflect.Message, secs int64, nanos int32) error {
	fs := m.Descriptor().Fields()
	sf, nf := fs.ByName("seconds"), fs.ByName("nanos")
	if sf == nil || nf == nil {
		return fmt.Errorf("%s has no seconds and nanos", m.Descriptor().FullName())
	}
	if secs != 0 {
		m.Set(sf, protoreflect.ValueOfInt64(secs))
	}
	if nanos != 0 {
		m.Set(nf, protoreflect.ValueOfInt32(nanos))
	}
	return nil
}

// parseDuration reads a duration's JSON form, "-1.5s": seconds and nanoseconds, both of the
// sign of the whole.
func parseDuration(s string) (secs int64, nanos int32, ok bool) {
	s, ok = strings.CutSuffix(s, "s")
	if !ok || s == "" {
		return 0, 0, false
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 9 || strings.ContainsAny(whole, "+-") || strings.ContainsAny(frac, "+-") {
		return 0, 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	var n int64
	if frac != "" {
		n, err = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 32)
		if err != nil {
			return 0, 0, false
		}
	}
	if neg {
		w, n = -w, -n
	}
	return w, int32(n), true
}

func setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v *structpb.Value) error {
	switch {
	case fd.IsList():
		lv, ok := v.GetKind().(*structpb.Value_ListValue)
		if !ok {
			return fmt.Errorf("want a list, got %T", v.GetKind())
		}
		list := m.Mutable(fd).List()
		for _, e := range lv.ListValue.GetValues() {
			if fd.Message() != nil {
				el := list.NewElement()
				if err := messageFrom(e, el.Message()); err != nil {
					return err
				}
				list.Append(el)
				continue
			}
			sv, skip, err := scalarFrom(fd, e)
			if err != nil {
				return err
			}
			if !skip {
				list.Append(sv)
			}
		}
	case fd.IsMap():
		sv, ok := v.GetKind().(*structpb.Value_StructValue)
		if !ok {
			return fmt.Errorf("want an object, got %T", v.GetKind())
		}
		mp := m.Mutable(fd).Map()
		kd, vd := fd.MapKey(), fd.MapValue()
		for k, e := range sv.StructValue.GetFields() {
			key, _, err := scalarFrom(kd, structpb.NewStringValue(k))
			if err != nil {
				return err
			}
			if vd.Message() != nil {
				val := mp.NewValue()
				if err := messageFrom(e, val.Message()); err != nil {
					return err
				}
				mp.Set(key.MapKey(), val)
				continue
			}
			val, skip, err := scalarFrom(vd, e)
			if err != nil {
				return err
			}
			if !skip {
				mp.Set(key.MapKey(), val)
			}
		}
	case fd.Message() != nil:
		return messageFrom(v, m.Mutable(fd).Message())
	default:
		sv, skip, err := scalarFrom(fd, v)
		if err != nil {
			return err
		}
		if !skip {
			m.Set(fd, sv)
		}
	}
	return nil
}

// messageFrom decodes v (an object, or any value for a well-known type) into m.
func messageFrom(v *structpb.Value, m protoreflect.Message) error {
	if isWellKnown(m.Descriptor()) {
		return wellKnownFrom(v, m)
	}
	sv, ok := v.GetKind().(*structpb.Value_StructValue)
	if !ok {
		if _, null := v.GetKind().(*structpb.Value_NullValue); null {
			return nil
		}
		return fmt.Errorf("want an object for %s, got %T", m.Descriptor().FullName(), v.GetKind())
	}
	return structToMessage(sv.StructValue, m)
}

// scalarFrom converts v to fd's scalar kind, as protojson reads it. skip is set for an enum
// name the message does not know (ignored, as unknown fields are).
func scalarFrom(fd protoreflect.FieldDescriptor, v *structpb.Value) (val protoreflect.Value, skip bool, err error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		switch k := v.GetKind().(type) {
		case *structpb.Value_BoolValue:
			return protoreflect.ValueOfBool(k.BoolValue), false, nil
		case *structpb.Value_StringValue: // a map key
			b, err := strconv.ParseBool(k.StringValue)
			return protoreflect.ValueOfBool(b), false, err
		}
	case protoreflect.StringKind:
		if k, ok := v.GetKind().(*structpb.Value_StringValue); ok {
			return protoreflect.ValueOfString(k.StringValue), false, nil
		}
	case protoreflect.BytesKind:
		if k, ok := v.GetKind().(*structpb.Value_StringValue); ok {
			s := k.StringValue
			enc := base64.StdEncoding
			if strings.ContainsAny(s, "-_") {
				enc = base64.URLEncoding
			}
			if len(s)%4 != 0 {
				enc = enc.WithPadding(base64.NoPadding)
			}
			b, err := enc.DecodeString(s)
			return protoreflect.ValueOfBytes(b), false, err
		}
	case protoreflect.EnumKind:
		switch k := v.GetKind().(type) {
		case *structpb.Value_StringValue:
			ev := fd.Enum().Values().ByName(protoreflect.Name(k.StringValue))
			if ev == nil {
				return protoreflect.Value{}, true, nil
			}
			return protoreflect.ValueOfEnum(ev.Number()), false, nil
		case *structpb.Value_NumberValue:
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(k.NumberValue))), false, nil
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := intFrom(v, 32)
		return protoreflect.ValueOfInt32(int32(n)), false, err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := intFrom(v, 64)
		return protoreflect.ValueOfInt64(n), false, err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := uintFrom(v, 32)
		return protoreflect.ValueOfUint32(uint32(n)), false, err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := uintFrom(v, 64)
		return protoreflect.ValueOfUint64(n), false, err
	case protoreflect.FloatKind:
		f, err := floatFrom(v, 32)
		return protoreflect.ValueOfFloat32(float32(f)), false, err
	case protoreflect.DoubleKind:
		f, err := floatFrom(v, 64)
		return protoreflect.ValueOfFloat64(f), false, err
	}
	return protoreflect.Value{}, false, fmt.Errorf("want a %s, got %T", fd.Kind(), v.GetKind())
}

func intFrom(v *structpb.Value, bits int) (int64, error) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		f := k.NumberValue
		if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, fmt.Errorf("%v is not an integer", f)
		}
		return strconv.ParseInt(strconv.FormatInt(int64(f), 10), 10, bits)
	case *structpb.Value_StringValue:
		return strconv.ParseInt(k.StringValue, 10, bits)
	}
	return 0, fmt.Errorf("want an integer, got %T", v.GetKind())
}

func uintFrom(v *structpb.Value, bits int) (uint64, error) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		f := k.NumberValue
		if f != math.Trunc(f) || f < 0 || f >= math.MaxUint64 {
			return 0, fmt.Errorf("%v is not an unsigned integer", f)
		}
		return strconv.ParseUint(strconv.FormatUint(uint64(f), 10), 10, bits)
	case *structpb.Value_StringValue:
		return strconv.ParseUint(k.StringValue, 10, bits)
	}
	return 0, fmt.Errorf("want an unsigned integer, got %T", v.GetKind())
}

func floatFrom(v *structpb.Value, bits int) (float64, error) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		return k.NumberValue, nil
	case *structpb.Value_StringValue:
		switch k.StringValue {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return strconv.ParseFloat(k.StringValue, bits)
	}
	return 0, fmt.Errorf("want a number, got %T", v.GetKind())
}
