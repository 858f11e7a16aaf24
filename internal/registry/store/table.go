package store

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// tableConvertor renders objects of a Kind as the Table kubectl prints.
type tableConvertor struct {
	kind *Kind
}

var swaggerMetadataDescriptions = metav1.ObjectMeta{}.SwaggerDoc()

func (t *tableConvertor) columns() []metav1.TableColumnDefinition {
	cols := []metav1.TableColumnDefinition{{
		Name: "Name", Type: "string", Format: "name", Description: swaggerMetadataDescriptions["name"],
	}}
	if t.kind.Row == nil {
		return append(cols, metav1.TableColumnDefinition{
			Name: "Age", Type: "string", Description: swaggerMetadataDescriptions["creationTimestamp"],
		})
	}
	return append(cols, t.kind.Columns...)
}

// ConvertToTable implements rest.TableConvertor.
func (t *tableConvertor) ConvertToTable(_ context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opt, ok := tableOptions.(*metav1.TableOptions); !ok || !opt.NoHeaders {
		table.ColumnDefinitions = t.columns()
	}
	add := func(obj runtime.Object) error {
		m, err := meta.Accessor(obj)
		if err != nil {
			return err
		}
		cells := []interface{}{m.GetName()}
		if t.kind.Row == nil {
			cells = append(cells, Age(m.GetCreationTimestamp()))
		} else {
			rest, err := t.kind.Row(obj)
			if err != nil {
				return fmt.Errorf("table row for %s: %w", m.GetName(), err)
			}
			cells = append(cells, rest...)
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: obj}})
		return nil
	}
	isList := meta.IsListType(object)
	if isList {
		if err := meta.EachListItem(object, add); err != nil {
			return nil, err
		}
	} else if err := add(object); err != nil {
		return nil, err
	}
	if t.kind.NameCells != nil {
		items := make([]runtime.Object, len(table.Rows))
		for i := range table.Rows {
			items[i] = table.Rows[i].Object.Object
		}
		for i, name := range t.kind.NameCells(items, isList) {
			table.Rows[i].Cells[0] = name
		}
	}
	if l, err := meta.ListAccessor(object); err == nil {
		table.ResourceVersion = l.GetResourceVersion()
		table.Continue = l.GetContinue()
		table.RemainingItemCount = l.GetRemainingItemCount()
	} else if m, err := meta.CommonAccessor(object); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	return table, nil
}

// Age renders a creation timestamp as kubectl does ("5m", "3d4h", "<unknown>").
func Age(ts metav1.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(ts.Time))
}

// AgeColumn is the column definition every kind ends its default columns with.
var AgeColumn = metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: swaggerMetadataDescriptions["creationTimestamp"]}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	return meta.Accessor(obj)
}
