; ragls tag query for Python.
; @definition.<kind> = whole node, @name.definition.<kind> = its name,
; @name.reference.<kind> = a used name, @import = an import statement (parsed in parser.py),
; @skip = identifiers that are not references (parameters, keyword names).

(function_definition name: (identifier) @name.definition.function) @definition.function
(class_definition name: (identifier) @name.definition.class) @definition.class
(module (expression_statement
  (assignment left: (identifier) @name.definition.variable) @definition.variable))
(module (type_alias_statement
  left: (type (identifier) @name.definition.type)) @definition.type)

(import_statement) @import
(import_from_statement) @import
(future_import_statement) @import

(call function: (identifier) @name.reference.call)
(call function: (attribute attribute: (identifier) @name.reference.call))
(attribute attribute: (identifier) @name.reference.attribute)
(type (identifier) @name.reference.type)
(generic_type (identifier) @name.reference.type)
(class_definition superclasses: (argument_list (identifier) @name.reference.type))
(identifier) @name.reference.name

(parameters (identifier) @skip)
(lambda_parameters (identifier) @skip)
(default_parameter name: (identifier) @skip)
(typed_parameter (identifier) @skip)
(typed_default_parameter name: (identifier) @skip)
(keyword_argument name: (identifier) @skip)

(ERROR) @error
(MISSING) @error
