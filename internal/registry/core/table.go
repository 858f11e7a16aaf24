package core

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// col is a column kubectl always prints.
func col(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wideCol is a column kubectl prints with -o wide only.
func wideCol(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Priority: 1, Description: description}
}

// orNone renders an empty cell as kubectl does.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// orUnknown renders an unknown value as kubectl does.
func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}
