; ragls tag query for Rust. Capture names as in python.scm; @definition.impl is a scope
; (methods inside get the impl type as parent) and is not reported as a definition.

(function_item name: (identifier) @name.definition.function) @definition.function
(function_signature_item name: (identifier) @name.definition.function) @definition.function
(struct_item name: (type_identifier) @name.definition.struct) @definition.struct
(union_item name: (type_identifier) @name.definition.struct) @definition.struct
(enum_item name: (type_identifier) @name.definition.enum) @definition.enum
(trait_item name: (type_identifier) @name.definition.trait) @definition.trait
(type_item name: (type_identifier) @name.definition.type) @definition.type
(const_item name: (identifier) @name.definition.constant) @definition.constant
(static_item name: (identifier) @name.definition.variable) @definition.variable
(mod_item name: (identifier) @name.definition.module body: (declaration_list)) @definition.module
(macro_definition name: (identifier) @name.definition.macro) @definition.macro
(impl_item type: (_) @name.definition.impl) @definition.impl

(use_declaration) @import
(extern_crate_declaration) @import
(mod_item) @import

(call_expression function: (identifier) @name.reference.call)
(call_expression function: (field_expression field: (field_identifier) @name.reference.call))
(call_expression function: (scoped_identifier name: (identifier) @name.reference.call))
(macro_invocation macro: (identifier) @name.reference.call)
(scoped_identifier path: (identifier) @name.reference.type)
(field_expression field: (field_identifier) @name.reference.attribute)
(type_identifier) @name.reference.type
(identifier) @name.reference.name

(parameter pattern: (identifier) @skip)

(ERROR) @error
(MISSING) @error
